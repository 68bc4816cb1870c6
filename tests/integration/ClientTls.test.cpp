// WebSocketClient over wss:// against the wharf server, with a CA made at test time:
// verification on by default, and each certificate failure by its Errc.

#include "integration/ClientSupport.hpp"
#include "support/EchoListener.hpp"
#include "support/RecordingListener.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// An echo at /echo on a TLS connector (127.0.0.1:0) with `chain`.
class WssServer {
public:
    explicit WssServer(const std::filesystem::path& chain = TlsTestCerts::get().chain)
    {
        auto ssl = TlsTestCerts::get().sslConfig();
        ssl.certificateChainFile = chain;
        ServerConnector c;
        c.host = "127.0.0.1";
        c.port = 0;
        c.ssl = ssl;
        server_.addConnector(c);
        server_.setThreads(2);
        auto context = std::make_shared<ServletContextHandler>("/");
        context->addWebSocket("/echo", [](WebSocketServletFactory& f) {
            f.setMaxMessageSize(1024 * 1024);
            f.addMapping<EchoListener>("/");
        });
        server_.setHandler(context);
        server_.start();
    }
    ~WssServer() { server_.stop(); }
    std::string uri(std::string_view host = "127.0.0.1") const
    {
        return fmt::format("wss://{}:{}/echo", host, server_.port());
    }

private:
    Server server_;
};

ClientTlsOptions trustingTestCa()
{
    ClientTlsOptions tls;
    tls.caFile = TlsTestCerts::get().caCertificate;
    return tls;
}

}  // namespace

TEST_SUITE("client")
{
    TEST_CASE("wss: a client that trusts the test CA echoes by IP address and by host name")
    {
        WssServer server;
        WebSocketClient client;
        client.setTlsOptions(trustingTestCa());
        WebSocketPolicy policy;
        policy.maxBinaryMessageSize = policy.maxFrameSize = 1024 * 1024;
        client.setPolicy(policy);
        client.start();
        for (const auto* host : {"127.0.0.1", "localhost"}) {
            CAPTURE(host);
            auto listener = std::make_shared<RecordingListener>();
            Session session = client.connect(listener, server.uri(host)).get();
            CHECK(session.upgradeRequest()->isSecure());
            std::string big(512 * 1024, 'x');
            session.sendText("over TLS");
            session.sendBinary(big);
            REQUIRE(listener->waitFor([](const auto& e) { return !e.texts.empty() && !e.binaries.empty(); }, 10s));
            CHECK(listener->snapshot().texts[0] == "over TLS");
            CHECK(listener->snapshot().binaries[0] == big);
            session.close();
            REQUIRE(listener->waitFor([](const auto& e) { return e.closeCount == 1; }));
            CHECK(*listener->snapshot().closeStatus == CloseStatus::Normal);
        }
    }

    TEST_CASE("wss: certificate failures are named")
    {
        WebSocketClient client;
        SUBCASE("unknown CA: the system store does not know the test CA")
        {
            WssServer server;
            client.start();
            const auto f = connectFailure(client, server.uri());
            CHECK(f.code == Errc::CertificateUnknownCa);
            CHECK(f.message.find("certificate") != std::string::npos);
        }
        SUBCASE("hostname mismatch: the certificate is for localhost and 127.0.0.1")
        {
            WssServer server;
            auto tls = trustingTestCa();
            tls.serverName = "chat.example.com";
            client.setTlsOptions(tls);
            client.start();
            CHECK(connectFailure(client, server.uri()).code == Errc::CertificateHostnameMismatch);
        }
        SUBCASE("expired")
        {
            WssServer server(TlsTestCerts::get().expiredChain);
            client.setTlsOptions(trustingTestCa());
            client.start();
            CHECK(connectFailure(client, server.uri()).code == Errc::CertificateExpired);
        }
        SUBCASE("insecureSkipVerify accepts all of them")
        {
            WssServer server(TlsTestCerts::get().expiredChain);
            ClientTlsOptions tls;
            tls.insecureSkipVerify = true;
            tls.serverName = "chat.example.com";
            client.setTlsOptions(tls);
            client.start();
            auto listener = std::make_shared<RecordingListener>();
            Session session = client.connect(listener, server.uri()).get();
            session.sendText("anyway");
            CHECK(listener->waitFor([](const auto& e) { return !e.texts.empty(); }));
        }
    }

    TEST_CASE("wss: a plain server on the other end fails the TLS handshake, a silent one times out")
    {
        WebSocketClient client;
        client.setTlsOptions(trustingTestCa());
        client.start();
        SUBCASE("plain HTTP")
        {
            ScriptedUpgradeServer plain([](const std::string&) { return std::string("HTTP/1.1 400 Bad Request\r\n\r\n"); });
            const auto f = connectFailure(client, "wss://127.0.0.1:" + std::to_string(plain.port()) + "/");
            CHECK(f.code == Errc::TlsHandshakeFailed);
        }
        SUBCASE("silent")
        {
            ListeningSocket silent;
            ClientUpgradeRequest request;
            request.handshakeTimeout = 300ms;
            const auto f = connectFailure(client, "wss://127.0.0.1:" + std::to_string(silent.port()) + "/", request);
            CHECK(f.code == Errc::HandshakeTimeout);
        }
    }

    TEST_CASE("a CA file that does not exist fails start() with its name")
    {
        WebSocketClient client;
        ClientTlsOptions tls;
        tls.caFile = "/nonexistent/ca.pem";
        client.setTlsOptions(tls);
        CHECK_THROWS_WITH_AS(client.start(), "ClientTlsOptions::caFile /nonexistent/ca.pem does not exist",
                             std::runtime_error);
    }
}
