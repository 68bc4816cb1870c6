// Several certificates on one TLS connector, chosen by the name the client sends (SNI,
// RFC 6066 section 3): exact names before wildcards, a wildcard covers one label, and the
// first certificate serves clients without a name or with one no certificate has. The
// client verifies against the throwaway CA and reports which certificate it got.

#include "support/EchoListener.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

using namespace wharf;
using namespace wharf::test;

namespace {

/// The CN of the certificate a client asking for `serverName` gets (verified against the
/// CA, and for that name too when `verifyName`).
std::string certificateFor(std::uint16_t port, std::string serverName, bool verifyName = true)
{
    TlsClient client(port, TlsTestCerts::get().caCertificate, TlsClient::Options{std::move(serverName), verifyName});
    return client.peerCommonName();
}

/// An echo server on 127.0.0.1:0 with one TLS connector and `ssl`'s certificates.
class SniServer {
public:
    explicit SniServer(SslConfig ssl)
    {
        auto context = std::make_shared<ServletContextHandler>("/");
        context->addWebSocket("/echo", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
        ServerConnector tls;
        tls.host = "127.0.0.1";
        tls.port = 0;
        tls.ssl = std::move(ssl);
        server_.addConnector(tls);
        server_.setThreads(2);
        server_.setHandler(context);
        server_.start();
    }
    ~SniServer() { server_.stop(); }
    std::uint16_t port() const { return server_.port(); }

private:
    Server server_;
};

/// The default (localhost) certificate, then: *.example.com, api.example.com (twice: the
/// first one keeps the name), a certificate with a CN and no subjectAltName, and one whose
/// names are given in the configuration.
SslConfig severalCertificates()
{
    const auto& certs = TlsTestCerts::get();
    SslConfig ssl = certs.sslConfig();
    ssl.certificates.push_back(certs.issue("sni-wildcard", "wildcard", {"*.example.com", "www.example.org"}));
    ssl.certificates.push_back(certs.issue("sni-exact", "exact", {"api.example.com"}));
    ssl.certificates.push_back(certs.issue("sni-later", "later", {"api.example.com"}));
    ssl.certificates.push_back(certs.issue("sni-cn", "cn-only.example.org", {}));
    auto configured = certs.issue("sni-configured", "configured", {"ignored.example.net"});
    configured.names = {"Chat.Example.NET"};
    ssl.certificates.push_back(configured);
    return ssl;
}

}  // namespace

TEST_SUITE("tls")
{
    TEST_CASE("SNI picks the certificate: exact names first, then a one-label wildcard, else the default")
    {
        SniServer server(severalCertificates());
        const auto port = server.port();

        SUBCASE("an exact name beats a wildcard listed before it; of two with one name, the first")
        {
            CHECK(certificateFor(port, "api.example.com") == "exact");
            CHECK(certificateFor(port, "www.example.org") == "wildcard");
        }
        SUBCASE("a wildcard covers one label")
        {
            CHECK(certificateFor(port, "chat.example.com") == "wildcard");
            CHECK(certificateFor(port, "a.b.example.com", false) == "localhost");
            CHECK(certificateFor(port, "example.com", false) == "localhost");
        }
        SUBCASE("names compare without regard to case")
        {
            CHECK(certificateFor(port, "API.Example.Com") == "exact");
            CHECK(certificateFor(port, "WWW.EXAMPLE.COM") == "wildcard");
        }
        SUBCASE("without subjectAltName the CN names the certificate")
        {
            CHECK(certificateFor(port, "cn-only.example.org") == "cn-only.example.org");
        }
        SUBCASE("configured names replace the certificate's own")
        {
            CHECK(certificateFor(port, "chat.example.net", false) == "configured");
            CHECK(certificateFor(port, "ignored.example.net", false) == "localhost");
        }
        SUBCASE("no name, or one no certificate has, gets the first certificate")
        {
            CHECK(certificateFor(port, "", false) == "localhost");
            CHECK(certificateFor(port, "unknown.example.org", false) == "localhost");
            CHECK(certificateFor(port, "localhost") == "localhost");
        }
    }

    TEST_CASE("wss works on a certificate chosen by SNI, and the client sees that certificate's names")
    {
        SniServer server(severalCertificates());
        TlsClient client(server.port(), TlsTestCerts::get().caCertificate, "chat.example.com");
        CHECK(client.peerNames() == std::vector<std::string>{"*.example.com", "www.example.org"});
        client.upgrade("/echo");
        client.sendText("over the wildcard");
        const auto echo = client.read();
        REQUIRE(echo);
        CHECK(echo->data == "over the wildcard");
        client.close();
    }

    TEST_CASE("certificates alone, without the single-certificate fields: the first one is the default")
    {
        const auto& certs = TlsTestCerts::get();
        SslConfig ssl;
        ssl.certificates.push_back(certs.issue("only-first", "first", {"first.example.com"}));
        ssl.certificates.push_back(certs.issue("only-second", "second", {"second.example.com"}));
        SniServer server(ssl);
        CHECK(certificateFor(server.port(), "second.example.com") == "second");
        CHECK(certificateFor(server.port(), "", false) == "first");
    }

    TEST_CASE("start() names the certificate of the list that is unusable, and a name it cannot match")
    {
        const auto& certs = TlsTestCerts::get();
        SslConfig ssl = certs.sslConfig();
        auto bad = certs.issue("bad-name", "bad", {"bad.example.com"});
        std::string expected;
        SUBCASE("a missing key")
        {
            bad.privateKeyFile = certs.dir / "nowhere-key.pem";
            expected = "TLS private key " + bad.privateKeyFile.string() + " does not exist";
        }
        SUBCASE("a key of another certificate")
        {
            bad.privateKeyFile = certs.key;
            expected = "TLS private key " + certs.key.string() + " does not match the certificate in " +
                       bad.certificateChainFile.string();
        }
        SUBCASE("a wildcard that is not a whole first label")
        {
            bad.names = {"a*.example.com"};
            expected = "TLS certificate name \"a*.example.com\" is not supported: use a host name or \"*.\" and a domain";
        }
        ssl.certificates.push_back(bad);
        Server server;
        ServerConnector c;
        c.host = "127.0.0.1";
        c.port = 0;
        c.ssl = ssl;
        server.addConnector(c);
        std::string error;
        try {
            server.start();
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        CHECK(error == expected);
        CHECK_FALSE(server.isRunning());
    }
}
