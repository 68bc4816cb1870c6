// The TLS stream's own cases (tls/TlsStream.hpp: OpenSSL on the non-blocking socket; in
// the WebSocket phase on the Poller, detail/Transport.hpp): bytes OpenSSL has already
// decrypted when the WebSocket takes over, writes that wait for a peer that does not read
// yet, records that arrive a byte at a time, KeyUpdate, and close_notify at the end.

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

#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <poll.h>

#include <chrono>
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

    /// From now on what SSL_write encrypts is sent one byte per TCP segment (TCP_NODELAY):
    /// the server sees every record in pieces.
    void sendByteByByte()
    {
        int one = 1;
        REQUIRE(::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
        memoryOut_ = BIO_new(BIO_s_mem());
        REQUIRE(memoryOut_);
        SSL_set0_wbio(ssl_.get(), memoryOut_);  // the SSL object owns it
    }
    void writeByteByByte(std::string_view bytes)
    {
        write(bytes);
        char c;
        while (BIO_read(memoryOut_, &c, 1) == 1) REQUIRE(::send(fd_, &c, 1, MSG_NOSIGNAL) == 1);
    }

    /// Asks the server to update its keys too (TLS 1.3 KeyUpdate, update_requested): the
    /// server's SSL_read then has to write. Sent with the next write.
    void requestKeyUpdate() { REQUIRE(SSL_key_update(ssl_.get(), SSL_KEY_UPDATE_REQUESTED) == 1); }
    std::string version() const { return SSL_get_version(ssl_.get()); }

    /// True when the server's close_notify comes next (SSL_read reports the end of data).
    bool readsCloseNotify()
    {
        char c;
        std::size_t got = 0;
        return SSL_read_ex(ssl_.get(), &c, 1, &got) == 0 && SSL_get_error(ssl_.get(), 0) == SSL_ERROR_ZERO_RETURN;
    }
    /// Our close_notify, after the server's.
    void answerCloseNotify() { REQUIRE(SSL_shutdown(ssl_.get()) == 1); }
    /// Waits (up to 5 s) until the server closes TCP; false on timeout.
    bool waitForTcpClose()
    {
        for (;;) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 5000) != 1) return false;
            char c[256];
            const ssize_t n = ::recv(fd_, c, sizeof c, 0);
            if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
            if (n < 0) return false;
        }
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

    /// Writes `bytes` in records of 16 KiB.
    void writeInRecords(std::string_view bytes)
    {
        for (std::size_t at = 0; at < bytes.size(); at += 16 * 1024) write(bytes.substr(at, 16 * 1024));
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
    BIO* memoryOut_ = nullptr;  // owned by ssl_
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

/// A client on `server`'s TLS connector whose WebSocket upgrade to /echo succeeded.
std::unique_ptr<OpenSslClient> upgradedClient(TestServer& server)
{
    auto client = std::make_unique<OpenSslClient>(server.server().port(1));
    client->write(upgradeRequest);
    REQUIRE(client->readUpgradeResponse().starts_with("HTTP/1.1 101"));
    return client;
}

/// The client closes (1000); true once the server's close frame and its close_notify came.
bool closeHandshake(OpenSslClient& client)
{
    client.write(RawClient::buildFrame(0x8, std::string("\x03\xe8", 2)));
    return client.readFramePayload() == std::string("\x03\xe8", 2) && client.readsCloseNotify();
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
        auto client = upgradedClient(*server);
        const auto big = pattern(8 * 1024 * 1024);
        const auto frame = RawClient::buildFrame(0x2, big);
        client->writeInRecords(frame);
        // Twice: the second echo is written while the first may still wait for the socket.
        client->writeInRecords(frame);
        CHECK(client->readFramePayload() == big);
        CHECK(client->readFramePayload() == big);
    }

    TEST_CASE("records that arrive a byte at a time are decrypted and echoed whole")
    {
        auto server = echoServer();
        auto client = upgradedClient(*server);
        client->sendByteByByte();
        const auto text = pattern(3000);
        client->writeByteByByte(RawClient::buildFrame(0x1, text) + RawClient::buildFrame(0x1, "after"));
        CHECK(client->readFramePayload() == text);
        CHECK(client->readFramePayload() == "after");
    }

    TEST_CASE("a TLS 1.3 KeyUpdate that asks the server to update too keeps the connection going")
    {
        auto server = echoServer();
        auto client = upgradedClient(*server);
        REQUIRE(client->version() == "TLSv1.3");
        for (int round = 0; round < 3; ++round) {
            client->requestKeyUpdate();  // the server's SSL_read writes its own KeyUpdate
            const auto text = "after key update " + std::to_string(round);
            client->write(RawClient::buildFrame(0x1, text));
            CHECK(client->readFramePayload() == text);
        }
    }

    TEST_CASE("a KeyUpdate that arrives while the server's 8 MiB echo waits for the socket")
    {
        auto server = echoServer();
        auto client = upgradedClient(*server);
        const auto big = pattern(8 * 1024 * 1024);
        client->writeInRecords(RawClient::buildFrame(0x2, big));
        client->requestKeyUpdate();
        client->write(RawClient::buildFrame(0x1, "after key update"));
        CHECK(client->readFramePayload() == big);
        CHECK(client->readFramePayload() == "after key update");
    }

    TEST_CASE("after the close handshake the server sends close_notify and closes TCP once the client's comes")
    {
        auto server = echoServer();
        auto client = upgradedClient(*server);
        REQUIRE(closeHandshake(*client));
        const auto answered = std::chrono::steady_clock::now();
        client->answerCloseNotify();
        CHECK(client->waitForTcpClose());
        // Well before the lingering deadline (2 s): the close_notify ended the wait.
        CHECK(std::chrono::steady_clock::now() - answered < std::chrono::seconds(1));
    }

    TEST_CASE("a client that never answers close_notify is closed after the lingering deadline")
    {
        auto server = echoServer();
        auto client = upgradedClient(*server);
        REQUIRE(closeHandshake(*client));
        const auto sent = std::chrono::steady_clock::now();
        CHECK(client->waitForTcpClose());
        CHECK(std::chrono::steady_clock::now() - sent > std::chrono::milliseconds(1500));
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
