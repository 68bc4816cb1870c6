// wharf's sockets are close-on-exec: a program that embeds wharf and starts child
// processes must not hand them its listening socket (a child that outlives the server
// would keep the port bound), its accepted connections, its WebSocketClient connections or
// its Redis connections. Each socket of this process is found through /proc/self/fd and
// told apart by its ports; the test's own raw clients are not wharf's and not checked.

#include "support/RawClient.hpp"
#include "support/RedisServer.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

struct SocketFd {
    int fd;
    std::uint16_t localPort;
    std::uint16_t peerPort;  // 0: none (listening)
    bool closeOnExec;
};

std::uint16_t portOf(const sockaddr_storage& a)
{
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return 0;
}

/// This process's TCP sockets.
std::vector<SocketFd> socketFds()
{
    std::vector<SocketFd> out;
    DIR* dir = ::opendir("/proc/self/fd");
    REQUIRE(dir);
    while (const dirent* e = ::readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == ::dirfd(dir)) continue;
        sockaddr_storage local{}, peer{};
        socklen_t size = sizeof local;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0) continue;  // not a socket
        if (local.ss_family != AF_INET && local.ss_family != AF_INET6) continue;
        size = sizeof peer;
        const bool connected = ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) == 0;
        out.push_back({fd, portOf(local), connected ? portOf(peer) : std::uint16_t{0},
                       (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0});
    }
    ::closedir(dir);
    return out;
}

class Quiet : public WebSocketListener {};

class Subscriber : public WebSocketListener {
public:
    void onConnect(Session s) override { s.subscribe("news"); }
};

}  // namespace

TEST_SUITE("lifecycle")
{
    TEST_CASE("wharf's sockets are close-on-exec: listening, accepted, client and Redis connections")
    {
        RedisServer redis;
        // The server: its listening socket, and the connections it accepts (a raw client's,
        // and the WebSocketClient's below).
        TestServer server(
            [](ServletContextHandler& context) {
                context.addWebSocket("/t", [](WebSocketServletFactory& f) { f.addMapping<Subscriber>("/"); });
            },
            2, [&](Server& s) {
                RedisBrokerConfig c;
                c.url = redis.url();
                s.setRedisBroker(c);
            });
        // A second server that only the WebSocketClient talks to: every socket with that
        // peer port is the client's.
        TestServer other([](ServletContextHandler& context) {
            context.addWebSocket("/q", [](WebSocketServletFactory& f) { f.addMapping<Quiet>("/"); });
        });
        RawClient raw(server.port());
        REQUIRE(raw.handshake("/t").status == 101);
        WebSocketClient client;
        client.start();
        auto session = client.connect(std::make_shared<Quiet>(), "ws://127.0.0.1:" + std::to_string(other.port()) + "/q");
        REQUIRE(session.wait_for(5s) == std::future_status::ready);
        session.get();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!server.server().brokerState().connected && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        REQUIRE(server.server().brokerState().connected);

        int listening = 0, accepted = 0, clients = 0, brokers = 0;
        for (const auto& s : socketFds()) {
            CAPTURE(s.fd);
            CAPTURE(s.localPort);
            CAPTURE(s.peerPort);
            if (s.localPort == server.port() || s.localPort == other.port()) {
                (s.peerPort ? accepted : listening) += 1;
                CHECK(s.closeOnExec);
            } else if (s.peerPort == other.port()) {
                ++clients;
                CHECK(s.closeOnExec);
            } else if (s.peerPort == redis.port()) {
                ++brokers;  // (the fixture's own commands to Redis are not kept open)
                CHECK(s.closeOnExec);
            }
        }
        CHECK(listening == 2);
        CHECK(accepted == 2);  // the raw client's and the WebSocketClient's
        CHECK(clients == 1);
        CHECK(brokers == 2);   // commands and subscriber
        client.stop();
    }
}
