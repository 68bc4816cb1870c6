// Server::reloadCertificates: new handshakes get the certificate now in the files, open
// wss sessions carry on with theirs, and a reload that cannot use the files keeps the old
// certificate and says why (exception and log).

#include "support/EchoListener.hpp"
#include "support/LogCapture.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

#include <filesystem>
#include <fstream>

using namespace wharf;
using namespace wharf::test;

namespace {

/// A wss echo server on 127.0.0.1:0 whose certificate files (stem `stem` in the test
/// directory) the test rewrites: first a certificate for localhost with CN "before".
class ReloadServer {
public:
    explicit ReloadServer(const std::string& stem) : stem_(stem)
    {
        files_ = TlsTestCerts::get().issue(stem_, "before", {"localhost"});
        SslConfig ssl;
        ssl.certificateChainFile = files_.certificateChainFile;
        ssl.privateKeyFile = files_.privateKeyFile;
        auto context = std::make_shared<ServletContextHandler>("/");
        context->addWebSocket("/echo", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
        ServerConnector tls;
        tls.host = "127.0.0.1";
        tls.port = 0;
        tls.ssl = ssl;
        server_.addConnector(tls);
        server_.setThreads(2);
        server_.setHandler(context);
        server_.start();
    }
    ~ReloadServer() { server_.stop(); }

    Server& server() { return server_; }
    const SslCertificate& files() const { return files_; }
    /// New certificate and key for localhost, with CN `commonName`, in the same files.
    void renew(const std::string& commonName) { TlsTestCerts::get().issue(stem_, commonName, {"localhost"}); }
    /// The CN new connections get.
    std::string served() const
    {
        TlsClient client(server_.port(), TlsTestCerts::get().caCertificate);
        return client.peerCommonName();
    }

private:
    std::string stem_;
    SslCertificate files_;
    Server server_;
};

void echoes(TlsClient& client, const std::string& text)
{
    client.sendText(text);
    const auto echo = client.read();
    REQUIRE(echo);
    CHECK(echo->data == text);
}

/// The message reloadCertificates() throws ("" when it does not).
std::string reloadError(Server& server)
{
    try {
        server.reloadCertificates();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_SUITE("tls")
{
    TEST_CASE("a reload while a wss session is open: the session carries on, new connections get the new certificate")
    {
        LogCapture log(log::Level::Info);
        ReloadServer server("reload-open");
        TlsClient open(server.server().port(), TlsTestCerts::get().caCertificate);
        CHECK(open.peerCommonName() == "before");
        open.upgrade("/echo");
        echoes(open, "before the reload");

        server.renew("after");
        CHECK(reloadError(server.server()) == "");
        CHECK(log.count(log::Level::Info, "1 certificate(s) reloaded; new handshakes use them") == 1);

        echoes(open, "after the reload");
        CHECK(server.served() == "after");
        TlsClient fresh(server.server().port(), TlsTestCerts::get().caCertificate);
        fresh.upgrade("/echo");
        echoes(fresh, "on the new certificate");
        echoes(open, "still on the old one");
        open.close();
        fresh.close();
    }

    TEST_CASE("the reload's log line comes once new handshakes get the new certificate")
    {
        // An operator, or a test after SIGHUP (SampleSignals.test.cpp), connects as soon as
        // the line shows. The sink connects while the line is being logged: a handshake
        // logs nothing at Info, so the server never waits for the sink's lock meanwhile.
        ReloadServer server("reload-logged");
        server.renew("after");
        std::string servedAtTheLine;
        const auto previous = log::level();
        log::setLevel(log::Level::Info);
        log::setSink([&](log::Level, std::string_view text) {
            if (text.find("certificate(s) reloaded") != std::string_view::npos) servedAtTheLine = server.served();
        });
        const auto error = reloadError(server.server());
        log::setSink({});
        log::setLevel(previous);
        CHECK(error == "");
        CHECK(servedAtTheLine == "after");
    }

    TEST_CASE("a reload that cannot use the files keeps the old certificate and says why")
    {
        LogCapture log(log::Level::Info);
        ReloadServer server("reload-fails");
        const auto files = server.files();
        TlsClient open(server.server().port(), TlsTestCerts::get().caCertificate);
        open.upgrade("/echo");
        std::string expected;

        SUBCASE("a missing key")
        {
            std::filesystem::remove(files.privateKeyFile);
            expected = "TLS private key " + files.privateKeyFile.string() + " does not exist";
        }
        SUBCASE("a key that does not match the certificate")
        {
            std::filesystem::copy_file(TlsTestCerts::get().otherKey, files.privateKeyFile,
                                       std::filesystem::copy_options::overwrite_existing);
            expected = "TLS private key " + files.privateKeyFile.string() + " does not match the certificate in " +
                       files.certificateChainFile.string();
        }
        SUBCASE("a chain that is not PEM (half written)")
        {
            std::ofstream(files.certificateChainFile) << "-----BEGIN CERTIFICATE-----\nMIIB";
            expected = "TLS certificate chain file " + files.certificateChainFile.string() +
                       " is not a PEM certificate chain";
        }

        const auto error = reloadError(server.server());
        CHECK(error.starts_with(expected));
        CHECK_FALSE(expected.empty());
        CHECK(log.count(log::Level::Error, "certificate reload failed, every TLS connector keeps its certificates") ==
              1);
        CHECK(server.served() == "before");
        echoes(open, "unharmed");

        // Fixed files: the next reload takes them.
        server.renew("fixed");
        CHECK(reloadError(server.server()) == "");
        CHECK(server.served() == "fixed");
        open.close();
    }

    TEST_CASE("a reload replaces every certificate of a connector with several, and does nothing when stopped")
    {
        const auto& certs = TlsTestCerts::get();
        Server sni;
        SslConfig ssl = certs.sslConfig();
        ssl.certificates.push_back(certs.issue("reload-sni", "old", {"sni.example.com"}));
        ServerConnector c;
        c.host = "127.0.0.1";
        c.port = 0;
        c.ssl = ssl;
        sni.addConnector(c);
        sni.setThreads(1);
        sni.start();
        auto named = [&] {
            TlsClient client(sni.port(), certs.caCertificate, "sni.example.com");
            return client.peerCommonName();
        };
        CHECK(named() == "old");
        certs.issue("reload-sni", "new", {"sni.example.com"});
        sni.reloadCertificates();
        CHECK(named() == "new");
        sni.stop();
        std::filesystem::remove(ssl.certificates.front().privateKeyFile);
        CHECK_NOTHROW(sni.reloadCertificates());
    }
}
