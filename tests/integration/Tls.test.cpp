// TLS connectors (https/wss) through a real Server on loopback: certificate checks at
// start(), wss and https with verification against a throwaway CA, plain and TLS side by
// side, handshake timeout and garbage on the TLS port, graceful stop.

#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

#include <fstream>
#include <future>
#include <thread>

using namespace wharf;
using namespace wharf::test;

namespace {

/// Answers every connection with "secure" or "plain", as UpgradeRequest::isSecure() says.
class SecureReporter : public WebSocketAdapter {
public:
    void onConnect(Session s) override
    {
        WebSocketAdapter::onConnect(s);
        s.sendText(s.upgradeRequest()->isSecure() ? "secure" : "plain");
    }
};

class HelloServlet : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        response.setContentType("text/plain");
        response.setBody(request.isSecure() ? "hello over https" : "hello over http");
    }
};

/// A Server with a plain connector (index 0, optional) and a TLS connector, both on 127.0.0.1:0.
class TlsServer {
public:
    explicit TlsServer(SslConfig ssl, bool withPlain = true)
        : withPlain_(withPlain), context_(std::make_shared<ServletContextHandler>("/"))
    {
        const auto& certs = TlsTestCerts::get();
        {
            std::ofstream(certs.dir / "index.html") << "<h1>static over TLS</h1>";
        }
        context_->addServlet("/hello", std::make_shared<HelloServlet>());
        context_->addStaticFiles("/static/*", certs.dir);
        context_->addWebSocket("/echo", [](WebSocketServletFactory& f) {
            f.setMaxMessageSize(2 * 1024 * 1024);
            f.addMapping<EchoListener>("/");
        });
        context_->addWebSocket("/secure", [](WebSocketServletFactory& f) { f.addMapping<SecureReporter>("/"); });
        ServerConnector plain;
        plain.host = "127.0.0.1";
        plain.port = 0;
        if (withPlain_) server_.addConnector(plain);
        ServerConnector tls = plain;
        tls.ssl = std::move(ssl);
        server_.addConnector(tls);
        server_.setThreads(2);
        server_.setHandler(context_);
        server_.start();
    }
    ~TlsServer() { server_.stop(); }

    std::uint16_t plainPort() const { return server_.port(0); }
    std::uint16_t tlsPort() const { return server_.port(withPlain_ ? 1 : 0); }
    Server& server() { return server_; }

private:
    bool withPlain_;
    Server server_;
    std::shared_ptr<ServletContextHandler> context_;
};

/// The message of the exception start() throws for a TLS connector with `ssl`.
std::string startError(const SslConfig& ssl)
{
    Server server;
    ServerConnector c;
    c.host = "127.0.0.1";
    c.port = 0;
    c.ssl = ssl;
    server.addConnector(c);
    try {
        server.start();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    server.stop();
    return "start() did not throw";
}

std::string pattern(std::size_t size)
{
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 31 + i / 251) & 0xff);
    return s;
}

}  // namespace

TEST_SUITE("tls")
{
    TEST_CASE("wss echoes text, binary and a 1 MiB message with the certificate verified against the CA")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig(), false);
        TlsClient client(server.tlsPort(), certs.caCertificate);
        client.upgrade("/echo");

        client.sendText("hello over wss");
        auto m = client.read();
        REQUIRE(m);
        CHECK(!m->binary);
        CHECK(m->data == "hello over wss");

        const std::string small = pattern(300);
        client.sendBinary(small);
        m = client.read();
        REQUIRE(m);
        CHECK(m->binary);
        CHECK(m->data == small);

        const std::string big = pattern(1024 * 1024);
        client.sendBinary(big);
        m = client.read(10s);
        REQUIRE(m);
        CHECK(m->binary);
        CHECK(m->data.size() == big.size());
        CHECK(m->data == big);

        client.close(1000);
        CHECK(client.closeCode() == 1000);
    }

    TEST_CASE("https serves a servlet and a static file, and the request knows it is secure")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig(), false);
        TlsClient client(server.tlsPort(), certs.caCertificate);
        auto r = client.get("/hello");
        CHECK(r.status == 200);
        CHECK(r.body == "hello over https");
        r = client.get("/static/index.html");  // same connection: keep-alive over TLS
        CHECK(r.status == 200);
        CHECK(r.body == "<h1>static over TLS</h1>");
        r = client.get("/nothing-here");
        CHECK(r.status == 404);
    }

    TEST_CASE("the certificate also verifies for 127.0.0.1 and an encrypted key with its password works")
    {
        const auto& certs = TlsTestCerts::get();
        auto ssl = certs.sslConfig();
        ssl.privateKeyFile = certs.encryptedKey;
        ssl.privateKeyPassword = certs.password;
        TlsServer server(ssl, false);
        TlsClient client(server.tlsPort(), certs.caCertificate, "127.0.0.1");
        CHECK(client.get("/hello").body == "hello over https");
    }

    TEST_CASE("a client expecting another host name fails verification and the server is unharmed")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig(), false);
        CHECK_THROWS_WITH_AS(TlsClient(server.tlsPort(), certs.caCertificate, "wrong.example"),
                             doctest::Contains("handshake failed"), std::runtime_error);
        TlsClient good(server.tlsPort(), certs.caCertificate);  // the server is unharmed
        CHECK(good.get("/hello").status == 200);
    }

    TEST_CASE("plain and TLS connectors serve side by side; UpgradeRequest::isSecure tells them apart")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig());
        REQUIRE(server.plainPort() != server.tlsPort());

        TlsClient tls(server.tlsPort(), certs.caCertificate);
        tls.upgrade("/secure");
        RawClient plain(server.plainPort());
        REQUIRE(plain.handshake("/secure").status == 101);

        auto m = tls.read();
        REQUIRE(m);
        CHECK(m->data == "secure");
        auto f = plain.readFrame();
        REQUIRE(f);
        CHECK(f->payload == "plain");

        RawClient plainHttp(server.plainPort());
        CHECK(plainHttp.get("/hello").body == "hello over http");
        TlsClient tlsHttp(server.tlsPort(), certs.caCertificate);
        CHECK(tlsHttp.get("/hello").body == "hello over https");
        CHECK(server.server().sessionCount() == 2);
    }

    TEST_CASE("ALPN selects http/1.1 and a client offering only h2 still gets a handshake")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig(), false);
        TlsClient both(server.tlsPort(), certs.caCertificate, "localhost", std::string("\x02h2\x08http/1.1", 12));
        CHECK(both.alpnSelected() == "http/1.1");
        TlsClient h2only(server.tlsPort(), certs.caCertificate, "localhost", std::string("\x02h2", 3));
        CHECK(h2only.alpnSelected().empty());
        CHECK(h2only.get("/hello").status == 200);
        TlsClient none(server.tlsPort(), certs.caCertificate, "localhost", "");
        CHECK(none.alpnSelected().empty());
    }

    TEST_CASE("start() fails with a message naming the file and what is wrong")
    {
        const auto& certs = TlsTestCerts::get();
        auto ssl = certs.sslConfig();

        SUBCASE("missing certificate chain")
        {
            ssl.certificateChainFile = certs.dir / "missing-chain.pem";
            CHECK(startError(ssl) == "TLS certificate chain file " + ssl.certificateChainFile.string() +
                                         " does not exist");
        }
        SUBCASE("certificate chain that is not PEM")
        {
            const auto garbage = certs.dir / "garbage.pem";
            std::ofstream(garbage) << "this is not a certificate\n";
            ssl.certificateChainFile = garbage;
            CHECK(startError(ssl).starts_with("TLS certificate chain file " + garbage.string() +
                                              " is not a PEM certificate chain"));
        }
        SUBCASE("missing private key")
        {
            ssl.privateKeyFile = certs.dir / "missing-key.pem";
            CHECK(startError(ssl) == "TLS private key " + ssl.privateKeyFile.string() + " does not exist");
        }
        SUBCASE("key that does not match the certificate")
        {
            ssl.privateKeyFile = certs.otherKey;
            CHECK(startError(ssl) == "TLS private key " + certs.otherKey.string() +
                                         " does not match the certificate in " + certs.chain.string());
        }
        SUBCASE("wrong password")
        {
            ssl.privateKeyFile = certs.encryptedKey;
            ssl.privateKeyPassword = "not the password";
            CHECK(startError(ssl) == "TLS private key " + certs.encryptedKey.string() +
                                         " cannot be decrypted: wrong password?");
        }
        SUBCASE("encrypted key without a password")
        {
            ssl.privateKeyFile = certs.encryptedKey;
            CHECK(startError(ssl) == "TLS private key " + certs.encryptedKey.string() +
                                         " is encrypted: set SslConfig::privateKeyPassword");
        }
        SUBCASE("unknown minimum version")
        {
            ssl.minimumVersion = "SSLv3";
            CHECK(startError(ssl) == "TLS minimumVersion \"SSLv3\" is not supported: use \"TLSv1.2\" or \"TLSv1.3\"");
        }
    }

    TEST_CASE("a silent client is dropped after the handshake timeout while another is served")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig(std::chrono::milliseconds(300)), false);
        const auto connected = std::chrono::steady_clock::now();
        RawClient silent(server.tlsPort());

        TlsClient busy(server.tlsPort(), certs.caCertificate);
        busy.upgrade("/echo");
        busy.sendText("still here");
        auto m = busy.read();
        REQUIRE(m);
        CHECK(m->data == "still here");

        CHECK(silent.waitForEof(5s));
        CHECK(std::chrono::steady_clock::now() - connected >= std::chrono::milliseconds(250));

        busy.sendText("and after");
        m = busy.read();
        REQUIRE(m);
        CHECK(m->data == "and after");
    }

    TEST_CASE("plain HTTP or garbage on the TLS port is dropped and the server keeps serving")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig(), false);
        TlsClient before(server.tlsPort(), certs.caCertificate);
        before.upgrade("/echo");

        RawClient http(server.tlsPort());
        http.sendRaw("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        CHECK(http.waitForEof(5s));
        RawClient garbage(server.tlsPort());
        garbage.sendRaw(std::string(64, '\x16') + "not a client hello");
        CHECK(garbage.waitForEof(5s));

        before.sendText("unharmed");
        auto m = before.read();
        REQUIRE(m);
        CHECK(m->data == "unharmed");
        TlsClient after(server.tlsPort(), certs.caCertificate);
        CHECK(after.get("/hello").body == "hello over https");
    }

    TEST_CASE("graceful stop() closes TLS sessions with 1001")
    {
        const auto& certs = TlsTestCerts::get();
        TlsServer server(certs.sslConfig());
        TlsClient a(server.tlsPort(), certs.caCertificate);
        a.upgrade("/echo");
        TlsClient b(server.tlsPort(), certs.caCertificate);
        b.upgrade("/echo");
        TlsClient idleHttp(server.tlsPort(), certs.caCertificate);
        CHECK(idleHttp.get("/hello").status == 200);
        RawClient plain(server.plainPort());
        REQUIRE(plain.handshake("/echo").status == 101);
        // Both are open on the server before stopping.
        a.sendText("x");
        REQUIRE(a.read());
        b.sendText("y");
        REQUIRE(b.read());

        const auto started = std::chrono::steady_clock::now();
        auto stopped = std::async(std::launch::async, [&] { server.server().stop(); });
        CHECK(!a.read());
        CHECK(a.closeCode() == 1001);
        CHECK(!b.read());
        CHECK(b.closeCode() == 1001);
        const auto close = plain.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        plain.sendClose(1001);
        REQUIRE(stopped.wait_for(10s) == std::future_status::ready);
        CHECK(!server.server().isRunning());
        // Everyone answered, so stop() did not have to wait for its timeout.
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    }
}
