// ConnectionLimits and ServerConnector::sendBufferSize, as a client sees them: the 503 with
// Retry-After over maxSessions, the accept pause at maxConnections and its recovery, the
// close at once over maxConnectionsPerAddress, and SO_SNDBUF on the accepted socket.
#include "support/EchoListener.hpp"
#include "support/LogCapture.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// Polls `pred` until it holds or `timeout` passes (for counts the server keeps, which
/// have nothing to wait on).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

std::function<void(ServletContextHandler&)> echoAndHello()
{
    return [](ServletContextHandler& context) {
        context.addGet("/hello", [](const Request&, Response& response) { response.setBody("hello"); });
        context.addWebSocket("/ws", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
    };
}

std::function<void(Server&)> withLimits(ConnectionLimits limits)
{
    return [limits](Server& server) { server.setConnectionLimits(limits); };
}

/// True when a response to the request already sent arrives within `timeout`.
bool answersWithin(RawClient& client, std::chrono::milliseconds timeout)
{
    try {
        return client.readResponse(timeout).status == 200;
    } catch (const std::exception&) {
        return false;
    }
}

/// The SO_SNDBUF of this process's socket connected from local port `port` (the server's
/// side of a loopback connection), or nullopt when there is none.
std::optional<int> acceptedSendBuffer(std::uint16_t port)
{
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return std::nullopt;
    std::optional<int> found;
    while (const dirent* entry = readdir(dir)) {
        const int fd = std::atoi(entry->d_name);
        sockaddr_storage local{}, peer{};
        socklen_t localSize = sizeof local, peerSize = sizeof peer;
        if (fd <= 2 || getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localSize) != 0) continue;
        if (local.ss_family != AF_INET || ntohs(reinterpret_cast<sockaddr_in&>(local).sin_port) != port) continue;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peerSize) != 0) continue;  // the listener
        int size = 0;
        socklen_t sizeSize = sizeof size;
        if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &sizeSize) == 0) found = size;
    }
    closedir(dir);
    return found;
}

}  // namespace

TEST_SUITE("limits") {

TEST_CASE("over maxSessions an upgrade gets 503 with Retry-After, and open sessions are untouched")
{
    ConnectionLimits limits;
    limits.maxSessions = 2;
    limits.retryAfter = 7s;
    TestServer server(echoAndHello(), 2, withLimits(limits));
    RawClient first(server.port()), second(server.port()), third(server.port());
    REQUIRE(first.handshake("/ws").status == 101);
    REQUIRE(second.handshake("/ws").status == 101);
    const auto refused = third.handshake("/ws");
    CHECK(refused.status == 503);
    CHECK(refused.header("Retry-After") == "7");
    // Plain HTTP is not a session: still served.
    CHECK(RawClient(server.port()).get("/hello").status == 200);
    // The open sessions go on.
    first.sendText("still here");
    const auto echo = first.readFrame();
    REQUIRE(echo);
    CHECK(echo->payload == "still here");
    // A freed slot takes the next upgrade.
    second.sendClose(1000);
    REQUIRE(second.readUntilClose());
    REQUIRE(eventually([&] { return server.server().sessionCount() < 2; }));
    CHECK(RawClient(server.port()).handshake("/ws").status == 101);
}

TEST_CASE("at maxConnections accepting pauses, logged once, and a waiting connection is served when one closes")
{
    LogCapture log(log::Level::Info);
    ConnectionLimits limits;
    limits.maxConnections = 2;
    TestServer server(echoAndHello(), 2, withLimits(limits));
    RawClient a(server.port()), b(server.port());
    REQUIRE(a.get("/hello").status == 200);  // kept alive: two connections open
    REQUIRE(b.get("/hello").status == 200);
    // Connects (the kernel's backlog) but is not accepted, so not answered.
    RawClient c(server.port()), d(server.port());
    c.sendRaw("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    d.sendRaw("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK_FALSE(answersWithin(c, 500ms));
    CHECK(log.count(log::Level::Warn, "ConnectionLimits::maxConnections") == 1);
    a.close();
    CHECK(answersWithin(c, 5s));
    CHECK_FALSE(answersWithin(d, 300ms));  // c took the free slot
    b.close();
    CHECK(answersWithin(d, 5s));
}

TEST_CASE("over maxConnectionsPerAddress a new connection from that address is closed at once")
{
    ConnectionLimits limits;
    limits.maxConnectionsPerAddress = 1;
    TestServer server(echoAndHello(), 2, withLimits(limits));
    RawClient first(server.port());
    REQUIRE(first.handshake("/ws").status == 101);
    RawClient second(server.port());
    CHECK(second.waitForEof(2s));
    first.sendClose(1000);
    REQUIRE(first.readUntilClose());
    first.close();
    CHECK(eventually([&] {
        try {
            return RawClient(server.port()).get("/hello").status == 200;
        } catch (const std::exception&) {
            return false;  // still closed at once: the first one's end is not counted yet
        }
    }));
}

TEST_CASE("ServerConnector::sendBufferSize sets SO_SNDBUF of the accepted sockets")
{
    auto context = std::make_shared<ServletContextHandler>("/");
    echoAndHello()(*context);
    Server server;
    ServerConnector connector;
    connector.host = "127.0.0.1";
    connector.port = 0;
    connector.sendBufferSize = 32 * 1024;
    server.addConnector(connector);
    server.setThreads(1);
    server.setHandler(context);
    server.start();
    RawClient client(server.port());
    REQUIRE(client.get("/hello").status == 200);  // accepted
    const auto size = acceptedSendBuffer(server.port());
    REQUIRE(size);
    CHECK(*size == 2 * 32 * 1024);  // Linux doubles what it is given (socket(7))
    server.stop();
}

}  // TEST_SUITE
