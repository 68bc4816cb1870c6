// The bounds on TLS handshakes in progress (SslConfig::maxHandshakesPerAddress and
// maxHandshakes), with stalled clients: TCP connections that never send a ClientHello.

#include "support/LogCapture.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <utility>
#include <vector>

using namespace wharf;
using namespace wharf::test;

namespace {

class HelloServlet : public HttpServlet {
public:
    void doGet(Request&, Response& response) override { response.setBody("hello"); }
};

/// A TestServer with a TLS connector (index 1) with these bounds. The handshake timeout is
/// long: the stalled clients must stay in progress for the whole test.
std::unique_ptr<TestServer> tlsServer(std::size_t maxHandshakes, std::size_t maxHandshakesPerAddress)
{
    auto ssl = TlsTestCerts::get().sslConfig(std::chrono::seconds(30));
    ssl.maxHandshakes = maxHandshakes;
    ssl.maxHandshakesPerAddress = maxHandshakesPerAddress;
    return std::make_unique<TestServer>(
        [](ServletContextHandler& c) { c.addServlet("/hello", std::make_shared<HelloServlet>()); }, 2,
        [ssl = std::move(ssl)](Server& s) {
            ServerConnector tls;
            tls.host = "127.0.0.1";
            tls.port = 0;
            tls.ssl = ssl;
            s.addConnector(tls);
        });
}

/// A TCP connection from a chosen loopback source address that never sends anything.
class StalledClient {
public:
    StalledClient(const char* source, std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0))
    {
        REQUIRE(fd_ >= 0);
        sockaddr_in from{};
        from.sin_family = AF_INET;
        ::inet_pton(AF_INET, source, &from.sin_addr);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    }
    StalledClient(StalledClient&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    StalledClient& operator=(StalledClient&&) = delete;
    ~StalledClient()
    {
        if (fd_ >= 0) ::close(fd_);
    }

    /// True when the server closes the connection (EOF or reset) within `timeout`.
    bool waitForEof(std::chrono::milliseconds timeout)
    {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
        char c;
        return ::recv(fd_, &c, 1, 0) <= 0;
    }

private:
    int fd_;
};

}  // namespace

TEST_SUITE("tls")
{
    TEST_CASE("over maxHandshakesPerAddress a new connection from that address is closed at once")
    {
        LogCapture logs;
        const auto& certs = TlsTestCerts::get();
        auto server = tlsServer(100, 4);
        const auto port = server->server().port(1);

        std::vector<RawClient> stalled;
        for (int i = 0; i < 4; ++i) stalled.emplace_back(port);
        // The acceptor takes connections in order: these four are counted before the fifth.
        RawClient fifth(port);
        CHECK(fifth.waitForEof(2s));  // long before the 30 s handshake timeout
        CHECK_THROWS_AS(TlsClient(port, certs.caCertificate), std::runtime_error);
        CHECK(logs.count(log::Level::Warn, "SslConfig::maxHandshakesPerAddress") == 1);  // once per episode

        // One stalled client goes away; once the server has let its handshake go, a real
        // client from the same address gets through.
        stalled.front().close();
        REQUIRE(logs.waitFor(log::Level::Debug, "handshake failed"));
        TlsClient client(port, certs.caCertificate);
        CHECK(client.get("/hello").body == "hello");
        CHECK(logs.count(log::Level::Warn, "SslConfig::maxHandshakesPerAddress") == 1);
    }

    TEST_CASE("at maxHandshakes the connector stops accepting until a handshake finishes")
    {
        LogCapture logs;
        const auto& certs = TlsTestCerts::get();
        auto server = tlsServer(3, 0);  // no per-address bound: only the connector's
        const auto port = server->server().port(1);

        std::vector<RawClient> stalled;
        for (int i = 0; i < 3; ++i) stalled.emplace_back(port);
        REQUIRE(logs.waitFor(log::Level::Warn, "SslConfig::maxHandshakes)"));

        // A real client now waits in the kernel's backlog: connected, but no handshake.
        auto waiting = std::async(std::launch::async, [&] {
            TlsClient client(port, certs.caCertificate);
            return client.get("/hello").body;
        });
        CHECK(waiting.wait_for(300ms) == std::future_status::timeout);
        // The plain connector is not affected.
        RawClient plain(server->port());
        CHECK(plain.get("/hello").status == 200);

        stalled.front().close();  // its handshake fails: the acceptor takes the next one
        REQUIRE(waiting.wait_for(5s) == std::future_status::ready);
        CHECK(waiting.get() == "hello");
        CHECK(logs.count(log::Level::Warn, "SslConfig::maxHandshakes)") == 1);
    }

    TEST_CASE("an address at its bound does not keep other addresses out")
    {
        LogCapture logs;
        const auto& certs = TlsTestCerts::get();
        auto server = tlsServer(100, 2);
        const auto port = server->server().port(1);

        // 127.0.0.2 is at its bound (loopback answers the whole 127/8 on Linux) ...
        std::vector<StalledClient> stalled;
        for (int i = 0; i < 2; ++i) stalled.emplace_back("127.0.0.2", port);
        StalledClient third("127.0.0.2", port);
        CHECK(third.waitForEof(2s));
        // ... while 127.0.0.1 is served.
        TlsClient client(port, certs.caCertificate);
        CHECK(client.get("/hello").status == 200);
        CHECK(logs.count(log::Level::Warn, "from 127.0.0.2 (SslConfig::maxHandshakesPerAddress)") == 1);
    }
}
