// Compiled, never run: the code quoted by docs/tls.md.

#include <wharf/wharf.hpp>

#include <chrono>
#include <memory>

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

}  // namespace docs
