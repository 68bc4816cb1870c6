#pragma once
// Debian's nginx (/usr/sbin/nginx, package nginx-light or nginx) as the load balancer in
// front of several wharf nodes, as docs/scaling.md configures it: round robin, HTTP/1.1 to
// the upstreams with the Upgrade and Connection headers passed on, and read timeouts long
// enough for idle WebSockets. It runs in the foreground, as a child of the test, with its
// configuration, logs, pid file and temporary files in a directory of its own, so it needs
// no root and touches nothing of a system nginx.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace wharf::test {

class ChildProcess;

class NginxProxy {
public:
    /// Starts nginx on a free 127.0.0.1 port, proxying to the 127.0.0.1 `upstreams` in
    /// turn; returns once it accepts connections. Throws std::runtime_error with nginx's
    /// error log when it does not start (or when nginx is not installed).
    explicit NginxProxy(const std::vector<std::uint16_t>& upstreams);
    /// Stops nginx (SIGTERM to its master process, SIGKILL if it has not ended 10 s later)
    /// and removes its directory.
    ~NginxProxy();
    NginxProxy(const NginxProxy&) = delete;
    NginxProxy& operator=(const NginxProxy&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// What nginx wrote to its error log so far.
    std::string errorLog() const;
    /// The configuration nginx runs with.
    std::string config() const;

private:
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    std::unique_ptr<ChildProcess> process_;
};

}  // namespace wharf::test
