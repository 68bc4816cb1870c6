// wharf-chat: the chat room of Jetty's ChatEndPoint sample, in wharf.
//
//   wharf-chat [--port 8080] [--host 0.0.0.0] [--threads 0] [--idle-timeout 1800] [--public DIR]
//              [--tls-cert fullchain.pem --tls-key privkey.pem [--tls-port 8443] [--no-plain]]
//              [--allow-origin https://chat.example.com ...] [--metrics]
//              [--max-connections 0] [--max-sessions 0] [--ping-interval 0]
//              [--redis redis://127.0.0.1:6379 [--node NAME]]
//
// Serves the chat page at "/" and the chat's WebSocket at "/chat" (the lobby) and
// "/chat/ROOM" (any other room; the page opens it for "/?room=ROOM"); with --metrics also
// /metrics and /health (docs/operations.md). The first text a client sends is its name;
// every later one goes to everybody in the room as "name: text".
// Only the chat's own pages may open the WebSocket (Origins.hpp): localhost, 127.0.0.1,
// [::1] and --host at the configured ports, plus every --allow-origin.
// With --redis, every wharf-chat that names the same Redis shares the rooms: run several
// behind a load balancer (docs/scaling.md). Each client is first told which node it is on;
// a text that Redis did not take is reported to its sender alone, beginning with "! ".
// A client that connects with "?since=" learns its position in the room, and one that
// reconnects with "?since=EPOCH:OFFSET" first gets what it missed (ChatEndPoint.hpp).
// Ctrl-C or SIGTERM stop it gracefully: every client gets a 1001 close first; a second
// one stops it at once. SIGHUP reloads --tls-cert and --tls-key (docs/operations.md).

#include "ChatEndPoint.hpp"
#include "Origins.hpp"

#include "../common/Limits.hpp"

#include <wharf/wharf.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#ifndef WHARF_CHAT_PUBLIC_DIR
#define WHARF_CHAT_PUBLIC_DIR ""
#endif

namespace {

namespace fs = std::filesystem;

// The chat page's directory when --public is not given: a "public" directory next to the
// executable (a copied or installed binary), else the one in the source tree.
fs::path defaultPublicDir()
{
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto besideExe = exe.parent_path() / "public";
        if (fs::is_regular_file(besideExe / "index.html", ec)) return besideExe;
    }
    return WHARF_CHAT_PUBLIC_DIR;
}

// What to type into a browser on this machine to reach `host`.
std::string browserHost(const std::string& host)
{
    if (host == "0.0.0.0" || host == "::" || host == "127.0.0.1" || host == "::1" || host.empty())
        return "localhost";
    if (host.find(':') != std::string::npos) return fmt::format("[{}]", host);
    return host;
}

// The node's name by default: this machine's name and the port clients reach it on.
std::string defaultNodeName(const wharf::Server& server)
{
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) std::snprintf(name, sizeof name, "localhost");
    return fmt::format("{}:{}", name, server.port());
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"wharf-chat: a WebSocket chat room, served with its web page"};
    app.footer("Signals: SIGINT or SIGTERM stops gracefully (clients get 1001), a second one at once; "
               "SIGHUP reloads --tls-cert and --tls-key.");
    int port = 8080;
    std::string host = "0.0.0.0";
    unsigned threads = 0;
    long idleTimeoutSeconds = 1800;
    fs::path publicDir;
    app.add_option("--port", port, "TCP port to listen on (0 picks a free one)")
        ->capture_default_str()->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to bind (0.0.0.0: all IPv4, ::: all IPv6)")->capture_default_str();
    app.add_option("--threads", threads, "server threads (0: one per hardware thread)")->capture_default_str();
    app.add_option("--idle-timeout", idleTimeoutSeconds,
                   "seconds without a message before a client is disconnected (0: never)")
        ->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--public", publicDir, "directory of the chat page (index.html)")
        ->default_str(defaultPublicDir().string());
    fs::path tlsCert;
    fs::path tlsKey;
    int tlsPort = 8443;
    bool noPlain = false;
    auto* certOption = app.add_option("--tls-cert", tlsCert, "PEM certificate chain, leaf first: serve https/wss too");
    auto* keyOption = app.add_option("--tls-key", tlsKey, "PEM private key of --tls-cert");
    certOption->needs(keyOption);
    keyOption->needs(certOption);
    app.add_option("--tls-port", tlsPort, "TCP port of the TLS connector")
        ->capture_default_str()->check(CLI::Range(0, 65535));
    app.add_flag("--no-plain", noPlain, "serve only TLS (needs --tls-cert)")->needs(certOption);
    std::vector<std::string> extraOrigins;
    app.add_option("--allow-origin", extraOrigins,
                   "a web page origin (scheme://host[:port]; port * and host *.domain match any) that may open "
                   "the chat besides the chat's own "
                   "pages on localhost, 127.0.0.1, [::1] and --host; repeat for more")
        ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    bool metrics = false;
    app.add_flag("--metrics", metrics, "serve Prometheus metrics at /metrics and a health check at /health");
    samples::LimitOptions limitOptions;
    limitOptions.addTo(app);
    std::string redisUrl;
    std::string node;
    app.add_option(
        "--redis", redisUrl,
        "join a cluster: share the rooms with every wharf-chat that names the same Redis, "
        "redis://[:password@]host[:port][/db], or rediss:// over TLS (docs/scaling.md)");
    app.add_option("--node", node, "this node's name, shown to its clients (default: HOSTNAME:PORT)");
    CLI11_PARSE(app, argc, argv);

    if (publicDir.empty()) publicDir = defaultPublicDir();
    std::error_code ec;
    if (!fs::is_regular_file(publicDir / "index.html", ec)) {
        fmt::print(stderr, "wharf-chat: no index.html in '{}'; point --public at samples/chat/public\n",
                   publicDir.string());
        return 1;
    }

    // The WebSocket's policy is fixed when its mapping is added, before start(): a port of
    // 0 allows the chat's pages on any port.
    chat::Listen listen{host, std::nullopt, std::nullopt};
    if (!noPlain) listen.httpPort = static_cast<std::uint16_t>(port);
    if (!tlsCert.empty()) listen.httpsPort = static_cast<std::uint16_t>(tlsPort);
    const auto origins = chat::allowedOrigins(listen, extraOrigins);

    wharf::Server server;
    try {
        wharf::ServerConnector connector;
        connector.host = host;
        connector.port = static_cast<std::uint16_t>(port);
        if (!noPlain) server.addConnector(connector);
        if (!tlsCert.empty()) {
            connector.port = static_cast<std::uint16_t>(tlsPort);
            connector.ssl = wharf::SslConfig{};
            connector.ssl->certificateChainFile = tlsCert;
            connector.ssl->privateKeyFile = tlsKey;
            server.addConnector(connector);
        }
        server.setThreads(threads);
        server.setStopAtShutdown(true);
        limitOptions.applyTo(server);
        server.setReloadCertificatesOnSighup(true);
        if (!redisUrl.empty()) {
            wharf::RedisBrokerConfig broker;
            broker.url = redisUrl;
            server.setRedisBroker(broker);
        }

        auto context = std::make_shared<wharf::ServletContextHandler>("/");
        context->addStaticFiles("/", publicDir);
        // Rooms: /chat is the lobby, /chat/NAME the room NAME; each room is a topic.
        context->addWebSocket("/chat/*", [&server, &origins, &limitOptions, &node, idleTimeoutSeconds](wharf::WebSocketServletFactory& factory) {
            factory.setIdleTimeout(std::chrono::seconds(idleTimeoutSeconds));
            factory.setAllowedOrigins(origins);  // any other Origin gets 403 (a bad --allow-origin throws)
            factory.setAllowMissingOrigin(true);  // clients that are not browsers
            limitOptions.applyTo(factory);
            auto enter = [&server, &node](const wharf::UpgradeRequest& request,
                                          wharf::UpgradeResponse& response) -> std::shared_ptr<wharf::WebSocketListener> {
                auto topic = chat::roomTopic(request.pathParameter("room").value_or(""));
                if (topic.empty()) {
                    response.reject(404, "no such room: names are 1 to 32 letters, digits, '-' or '_'");
                    return nullptr;
                }
                // "?since=": the client counts the room's messages (the page does), and
                // "?since=EPOCH:OFFSET" resumes after the last one it has (ChatEndPoint.hpp).
                chat::Resume resume;
                if (auto since = request.queryParameter("since")) {
                    resume.positions = true;
                    if (!since->empty() && !(resume.since = wharf::TopicPosition::parse(*since))) {
                        response.reject(400, "since must be EPOCH:OFFSET, a position the chat gave");
                        return nullptr;
                    }
                }
                // The port is known once the server runs (--port 0), as it does by now.
                return std::make_shared<chat::ChatEndPoint>(server, std::move(topic),
                                                            node.empty() ? defaultNodeName(server) : node, resume);
            };
            factory.addMapping("/chat", enter);
            factory.addMapping("/chat/{room}", enter);
        });
        if (metrics) {
            context->addMetrics("/metrics");
            context->addHealth("/health");
        }
        server.setHandler(context);
        server.start();
    } catch (const std::exception& e) {
        fmt::print(stderr, "wharf-chat: {}\n", e.what());
        return 1;
    }

    if (!noPlain) fmt::print("wharf-chat: open http://{}:{}/ in your browser\n", browserHost(host), server.port());
    if (!tlsCert.empty())
        fmt::print("wharf-chat: open https://{}:{}/ in your browser\n", browserHost(host), server.port(noPlain ? 0 : 1));
    fmt::print("wharf-chat: the chat's WebSocket takes pages from {}\n", fmt::join(origins, ", "));
    if (!redisUrl.empty())
        fmt::print("wharf-chat: node {} of the cluster at {}\n", node.empty() ? defaultNodeName(server) : node,
                   redisUrl);
    fmt::print("wharf-chat: serving {} ; press Ctrl-C to stop\n", publicDir.string());
    std::fflush(stdout);

    server.join();  // until SIGINT/SIGTERM: setStopAtShutdown closes every session with 1001 first
    fmt::print("wharf-chat: stopped\n");
    return 0;
}
