#include "support/NginxProxy.hpp"

#include "support/ChildProcess.hpp"
#include "support/LoopbackPort.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

namespace wharf::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* nginxExecutable = "/usr/sbin/nginx";

std::string readFile(const fs::path& path)
{
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The configuration of docs/scaling.md ("nginx in front"), with every path nginx writes
/// inside `dir`.
std::string makeConfig(const fs::path& dir, std::uint16_t port, const std::vector<std::uint16_t>& upstreams)
{
    const auto d = dir.string();
    std::ostringstream c;
    c << "daemon off;\n"  // a child of the test, stopped by its pid
      << "worker_processes 1;\n"
      << "pid " << d << "/nginx.pid;\n"
      << "error_log " << d << "/error.log warn;\n"
      << "events { worker_connections 1024; }\n"
      << "http {\n"
      << "    access_log " << d << "/access.log;\n"
      << "    client_body_temp_path " << d << "/client_body;\n"
      << "    proxy_temp_path " << d << "/proxy;\n"
      << "    fastcgi_temp_path " << d << "/fastcgi;\n"
      << "    uwsgi_temp_path " << d << "/uwsgi;\n"
      << "    scgi_temp_path " << d << "/scgi;\n"
      << "\n"
      << "    upstream wharf {\n";
    for (const auto upstream : upstreams) c << "        server 127.0.0.1:" << upstream << ";\n";
    c << "    }\n"
      << "    map $http_upgrade $connection_upgrade {\n"
      << "        default upgrade;\n"
      << "        ''      close;\n"
      << "    }\n"
      << "    server {\n"
      << "        listen 127.0.0.1:" << port << ";\n"
      << "        location / {\n"
      << "            proxy_pass http://wharf;\n"
      << "            proxy_http_version 1.1;\n"
      << "            proxy_set_header Upgrade $http_upgrade;\n"
      << "            proxy_set_header Connection $connection_upgrade;\n"
      << "            proxy_set_header Host $host;\n"
      << "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
      << "            proxy_read_timeout 1h;\n"
      << "            proxy_send_timeout 1h;\n"
      << "        }\n"
      << "    }\n"
      << "}\n";
    return c.str();
}

}  // namespace

NginxProxy::NginxProxy(const std::vector<std::uint16_t>& upstreams)
{
    if (!fs::exists(nginxExecutable))
        throw std::runtime_error(std::string("NginxProxy: no ") + nginxExecutable +
                                 "; install nginx-light (scripts/install-deps.sh --tests)");
    std::string pattern = (fs::temp_directory_path() / "wharf-nginx-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("NginxProxy: cannot create a temporary directory");
    dir_ = pattern;
    // Run as root, nginx's workers are "nobody" and must reach the temporary paths in here.
    ::chmod(dir_.c_str(), 0755);

    // The port is free when chosen; another process may take it before nginx binds it.
    for (int attempt = 1; attempt <= 3; ++attempt) {
        port_ = freeLoopbackPort();
        {
            std::ofstream(dir_ / "nginx.conf") << makeConfig(dir_, port_, upstreams);
        }
        fs::remove(dir_ / "error.log");
        process_ = std::make_unique<ChildProcess>(
            nginxExecutable, std::vector<std::string>{"-p", dir_.string(), "-c", (dir_ / "nginx.conf").string(), "-e",
                                                      (dir_ / "error.log").string()});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (process_->waitForExit(std::chrono::milliseconds(20))) break;
            if (waitUntilAccepting(port_, std::chrono::milliseconds(0))) return;
        }
        const auto log = errorLog();
        process_.reset();
        if (attempt == 3 || log.find("Address already in use") == std::string::npos) {
            fs::remove_all(dir_);
            throw std::runtime_error("NginxProxy: nginx did not start; its error log:\n" + log);
        }
    }
}

NginxProxy::~NginxProxy()
{
    process_.reset();  // SIGTERM: nginx's fast shutdown closes every proxied connection
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

std::string NginxProxy::errorLog() const { return readFile(dir_ / "error.log"); }

std::string NginxProxy::config() const { return readFile(dir_ / "nginx.conf"); }

}  // namespace wharf::test
