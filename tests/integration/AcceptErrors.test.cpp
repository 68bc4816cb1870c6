// Accepting while the process is out of file descriptors (EMFILE): the acceptor backs off
// and retries, logging one warning when the episode starts and one line when it ends.

#include "support/LogCapture.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

using namespace wharf;
using namespace wharf::test;

namespace {

class HelloServlet : public HttpServlet {
public:
    void doGet(Request&, Response& response) override { response.setBody("hello"); }
};

/// A descriptor closed on scope exit.
struct Descriptor {
    int fd;
    ~Descriptor()
    {
        if (fd >= 0) ::close(fd);
    }
};

/// While it lives, every descriptor number below the soft RLIMIT_NOFILE is taken: the
/// limit is lowered to just above the highest open descriptor and the gaps below it are
/// filled with dup(). The destructor closes the fillers and restores the limit.
class NoFreeDescriptors {
public:
    NoFreeDescriptors()
    {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        source_ = ::open("/dev/null", O_RDONLY);
        REQUIRE(source_ >= 0);
        int highest = 0;
        DIR* dir = ::opendir("/proc/self/fd");
        REQUIRE(dir);
        while (const dirent* e = ::readdir(dir))
            if (e->d_name[0] != '.') highest = std::max(highest, std::atoi(e->d_name));
        ::closedir(dir);  // its own descriptor was counted: one more gap to fill
        rlimit lower = saved_;
        lower.rlim_cur = static_cast<rlim_t>(highest) + 1;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &lower) == 0);
        for (int fd; (fd = ::dup(source_)) >= 0;) fillers_.push_back(fd);
    }
    ~NoFreeDescriptors()
    {
        for (const int fd : fillers_) ::close(fd);
        ::close(source_);
        ::setrlimit(RLIMIT_NOFILE, &saved_);
    }
    NoFreeDescriptors(const NoFreeDescriptors&) = delete;
    NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

private:
    rlimit saved_{};
    int source_ = -1;  // what the fillers are dups of
    std::vector<int> fillers_;
};

}  // namespace

TEST_SUITE("http")
{
    TEST_CASE("out of descriptors, accept warns once, retries, and logs once when it works again")
    {
        LogCapture logs;
        TestServer server([](ServletContextHandler& c) { c.addServlet("/hello", std::make_shared<HelloServlet>()); });
        const std::string acceptOn = "accept on 127.0.0.1:" + std::to_string(server.port());

        // The client's socket exists before the descriptors run out; connecting needs none.
        const Descriptor client{::socket(AF_INET, SOCK_STREAM, 0)};
        const int fd = client.fd;
        REQUIRE(fd >= 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(server.port());
        ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        {
            NoFreeDescriptors exhausted;
            REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);  // into the backlog
            // Three failed accepts (100 ms apart), at whatever level each is logged.
            REQUIRE(logs.waitUntil([&](const std::vector<LogCapture::Line>& lines) {
                return std::count_if(lines.begin(), lines.end(), [&](const LogCapture::Line& l) {
                           return l.second.find(acceptOn + " failed") != std::string::npos;
                       }) >= 3;
            }));
            CHECK(logs.count(log::Level::Warn, acceptOn) == 1);
        }
        REQUIRE(logs.waitFor(log::Level::Info, acceptOn + " works again"));
        CHECK(logs.count(log::Level::Warn, acceptOn) == 1);
        CHECK(logs.count(log::Level::Info, "works again after") == 1);

        // The connection that waited in the backlog is served.
        const std::string request = "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
        std::string response;
        char buf[512];
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, static_cast<std::size_t>(n));
        CHECK(response.starts_with("HTTP/1.1 200"));
        CHECK(response.ends_with("hello"));
    }
}
