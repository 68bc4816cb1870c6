// Compiled, never run: the code quoted by docs/tls.md.

#include <wharf/wharf.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>

namespace docs {

//[tls_connector
void serveHttpsAndWss(std::shared_ptr<wharf::Handler> handler)
{
    wharf::Server server;

    wharf::ServerConnector plain;  // http:// and ws:// on 8080
    plain.port = 8080;
    server.addConnector(plain);

    wharf::SslConfig ssl;  // https:// and wss:// on 8443
    ssl.certificateChainFile = "/etc/letsencrypt/live/example.org/fullchain.pem";
    ssl.privateKeyFile = "/etc/letsencrypt/live/example.org/privkey.pem";
    ssl.minimumVersion = "TLSv1.2";
    ssl.handshakeTimeout = std::chrono::seconds(10);

    wharf::ServerConnector secure;
    secure.port = 8443;
    secure.ssl = ssl;
    server.addConnector(secure);

    server.setHandler(std::move(handler));
    server.start();  // throws std::runtime_error naming the file when a certificate or key is unusable
    server.join();
}
//]

//[tls_sni
void serveSeveralNames(std::shared_ptr<wharf::Handler> handler)
{
    wharf::SslConfig ssl;  // the default: clients without SNI, or with a name listed nowhere
    ssl.certificateChainFile = "/etc/letsencrypt/live/example.org/fullchain.pem";
    ssl.privateKeyFile = "/etc/letsencrypt/live/example.org/privkey.pem";

    wharf::SslCertificate wildcard;  // names from its subjectAltNames, e.g. *.example.com
    wildcard.certificateChainFile = "/etc/letsencrypt/live/example.com/fullchain.pem";
    wildcard.privateKeyFile = "/etc/letsencrypt/live/example.com/privkey.pem";
    ssl.certificates.push_back(wildcard);

    wharf::SslCertificate chat;  // names given here instead of the certificate's own
    chat.certificateChainFile = "/etc/wharf/chat-fullchain.pem";
    chat.privateKeyFile = "/etc/wharf/chat-privkey.pem";
    chat.names = {"chat.example.net"};
    ssl.certificates.push_back(chat);

    wharf::ServerConnector secure;
    secure.port = 8443;
    secure.ssl = ssl;
    wharf::Server server;
    server.addConnector(secure);
    server.setHandler(std::move(handler));
    server.setStopAtShutdown(true);               // SIGINT, SIGTERM: graceful stop; twice: at once
    server.setReloadCertificatesOnSighup(true);  // SIGHUP: server.reloadCertificates()
    server.start();
    server.join();
}
//]

//[tls_reload
// After certbot renewed the files (a deploy hook, a timer, an admin endpoint...).
bool renewCertificates(wharf::Server& server)
{
    try {
        server.reloadCertificates();  // new handshakes use the new files; open connections carry on
        return true;
    } catch (const std::runtime_error& e) {
        // The old certificates stay in use; the reason names the file and the problem.
        wharf::log::error("renewal: {}", e.what());
        return false;
    }
}
//]

}  // namespace docs
