// The TLS stream's own cases (tls/TlsStream.hpp: OpenSSL on the non-blocking socket, read
// on readiness into a buffer of the thread): bytes OpenSSL has already decrypted when the
// WebSocket takes over, and writes that wait for a peer that does not read yet.

#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>

using namespace wharf;
using namespace wharf::test;

namespace {

/// A blocking OpenSSL client that writes exactly what it is given, in as many TLS records
/// as it is called; every read is bounded by a 5 s receive timeout.
class OpenSslClient {
public:
    explicit OpenSslClient(std::uint16_t port)
        : ctx_(SSL_CTX_new(TLS_client_method())), fd_(::socket(AF_INET, SOCK_STREAM, 0))
    {
        REQUIRE(ctx_);
        REQUIRE(fd_ >= 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
        ssl_.reset(SSL_new(ctx_.get()));
        SSL_set_fd(ssl_.get(), fd_);
        REQUIRE(SSL_connect(ssl_.get()) == 1);
    }
    ~OpenSslClient()
    {
        ssl_.reset();
        ::close(fd_);
    }

    /// Bytes straight to the socket, past TLS (to break the protocol).
    void writeUnencrypted(std::string_view bytes)
    {
        REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
    }

    /// One SSL_write: one TLS record (up to 16 KiB).
    void write(std::string_view bytes)
    {
        std::size_t n = 0;
        REQUIRE(SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n) == 1);
        REQUIRE(n == bytes.size());
    }

    /// Reads until `n` bytes are buffered; returns and removes them.
    std::string read(std::size_t n)
    {
        while (buf_.size() < n) fill();
        auto out = buf_.substr(0, n);
        buf_.erase(0, n);
        return out;
    }

    /// The 101 response's header, up to the blank line.
    std::string readUpgradeResponse()
    {
        while (buf_.find("\r\n\r\n") == std::string::npos) fill();
        const auto end = buf_.find("\r\n\r\n") + 4;
        auto head = buf_.substr(0, end);
        buf_.erase(0, end);
        return head;
    }

    /// One unmasked server frame's payload.
    std::string readFramePayload()
    {
        const auto h = read(2);
        std::uint64_t length = static_cast<std::uint8_t>(h[1]) & 0x7f;
        if (length == 126) {
            const auto x = read(2);
            length = (std::uint64_t(std::uint8_t(x[0])) << 8) | std::uint8_t(x[1]);
        } else if (length == 127) {
            const auto x = read(8);
            length = 0;
            for (char c : x) length = (length << 8) | std::uint8_t(c);
        }
        return read(static_cast<std::size_t>(length));
    }

private:
    void fill()
    {
        char buf[16 * 1024];
        std::size_t got = 0;
        if (SSL_read_ex(ssl_.get(), buf, sizeof buf, &got) != 1)
            throw std::runtime_error("OpenSslClient: read failed or timed out");
        buf_.append(buf, got);
    }

    struct CtxFree {
        void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
    };
    struct SslFree {
        void operator()(SSL* s) const { SSL_free(s); }
    };
    std::unique_ptr<SSL_CTX, CtxFree> ctx_;
    std::unique_ptr<SSL, SslFree> ssl_;
    int fd_;
    std::string buf_;
};

const std::string upgradeRequest =
    "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

std::string pattern(std::size_t size)
{
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 97) % 26);
    return s;
}

/// A TestServer with a TLS connector (index 1) serving EchoListener at /echo and, when
/// given, the recorders' listeners at /rec.
std::unique_ptr<TestServer> echoServer(Recorders* recorders = nullptr)
{
    return std::make_unique<TestServer>(
        [recorders](ServletContextHandler& c) {
            c.addWebSocket("/echo", [](WebSocketServletFactory& f) {
                f.setMaxMessageSize(16 * 1024 * 1024);
                f.setMaxSendQueueSize(32 * 1024 * 1024);  // both 8 MiB echoes may wait at once
                f.addMapping<EchoListener>("/");
            });
            if (recorders)
                c.addWebSocket("/rec", [recorders](WebSocketServletFactory& f) { f.addMapping("/", recorders->creator()); });
        },
        2,
        [](Server& s) {
            ServerConnector tls;
            tls.host = "127.0.0.1";
            tls.port = 0;
            tls.ssl = TlsTestCerts::get().sslConfig();
            s.addConnector(tls);
        });
}

}  // namespace

TEST_SUITE("tls")
{
    TEST_CASE("frames in the same TLS record as the upgrade request are echoed (bytes OpenSSL holds at the hand-off)")
    {
        auto server = echoServer();
        OpenSslClient client(server->server().port(1));
        // One record: the request, then two frames, 10 KiB in all. The HTTP phase reads
        // only part of it; the rest stays decrypted inside OpenSSL, with nothing more to
        // come on the socket: the WebSocket must read before it waits for readiness.
        const auto first = pattern(6000);
        client.write(upgradeRequest + RawClient::buildFrame(0x1, first) + RawClient::buildFrame(0x1, "second"));
        CHECK(client.readUpgradeResponse().starts_with("HTTP/1.1 101"));
        CHECK(client.readFramePayload() == first);
        CHECK(client.readFramePayload() == "second");
    }

    TEST_CASE("the upgrade request and a frame in separate records of one write are both served")
    {
        auto server = echoServer();
        OpenSslClient client(server->server().port(1));
        client.write(upgradeRequest);
        client.write(RawClient::buildFrame(0x1, "right behind"));
        CHECK(client.readUpgradeResponse().starts_with("HTTP/1.1 101"));
        CHECK(client.readFramePayload() == "right behind");
    }

    TEST_CASE("an 8 MiB echo to a client that reads only after sending it all waits for the socket and arrives whole")
    {
        auto server = echoServer();
        OpenSslClient client(server->server().port(1));
        client.write(upgradeRequest);
        CHECK(client.readUpgradeResponse().starts_with("HTTP/1.1 101"));
        const auto big = pattern(8 * 1024 * 1024);
        const auto frame = RawClient::buildFrame(0x2, big);
        for (std::size_t at = 0; at < frame.size(); at += 16 * 1024)
            client.write(std::string_view(frame).substr(at, 16 * 1024));
        // Twice: the second echo is written while the first may still wait for the socket.
        for (std::size_t at = 0; at < frame.size(); at += 16 * 1024)
            client.write(std::string_view(frame).substr(at, 16 * 1024));
        CHECK(client.readFramePayload() == big);
        CHECK(client.readFramePayload() == big);
    }

    TEST_CASE("a TLS protocol error reaches onError in the SSL category, not as an errno of the system category")
    {
        Recorders recorders;
        auto server = echoServer(&recorders);
        OpenSslClient client(server->server().port(1));
        client.write(std::string(upgradeRequest).replace(4, 5, "/rec"));
        CHECK(client.readUpgradeResponse().starts_with("HTTP/1.1 101"));
        auto rec = recorders.at(0);
        // An application-data record that was never encrypted: it cannot be authenticated
        // (TLS 1.3: the AEAD tag fails; 1.2: "bad record mac").
        client.writeUnencrypted(std::string("\x17\x03\x03\x00\x20", 5) + std::string(32, 'x'));
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
        const auto events = rec->snapshot();
        REQUIRE(events.errors.size() == 1);
        const auto& code = events.errors[0].code;
        CAPTURE(events.errors[0].what());
        CHECK(std::string_view(code.category().name()) == "asio.ssl");
        CHECK(code.message() == events.errors[0].message);
        CHECK(events.closeStatus == CloseStatus::Abnormal);
    }
}
