// wharf-echo: sends every WebSocket message back unchanged (text as text, binary as
// binary). The endpoint for the Autobahn conformance suite and for load tools.
//
//   wharf-echo [--port 9001] [--host 0.0.0.0] [--threads 0] [--idle-timeout 60]
//              [--max-message-size 1048576] [--no-deflate]
//              [--tls-cert fullchain.pem --tls-key privkey.pem [--tls-port 9443] [--no-plain]]
//              [--metrics] [--max-connections 0] [--max-sessions 0] [--ping-interval 0]
//
// Any path under /echo works (ws://localhost:9001/echo, /echo/anything). --metrics adds
// /metrics (Prometheus) and /health (docs/operations.md).
// Ctrl-C or SIGTERM stop it gracefully: every client gets a 1001 close first; a second
// one stops it at once. SIGHUP reloads --tls-cert and --tls-key (docs/operations.md).

#include "../common/Limits.hpp"

#include <wharf/wharf.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>


namespace {

/// Echoes each message on the connection's own session. No per-message callback: the
/// echo is a load-test target. Flow control instead of refusals: once a message's worth of
/// echoes waits for a client that reads slowly, the session stops reading that client
/// (suspend) until its echoes are out (onDrain). The send queue holds at least two of the
/// largest messages, so the echo that triggers the pause is always queued.
class EchoListener : public wharf::WebSocketListener {
public:
    explicit EchoListener(std::size_t pauseAt) : pauseAt_(pauseAt) {}
    void onConnect(wharf::Session session) override { session_ = std::move(session); }
    void onText(std::string_view message) override { echoed(session_.sendText(message)); }
    void onBinary(std::span<const std::byte> message) override { echoed(session_.sendBinary(message)); }
    void onDrain() override { session_.resume(); }
    void onError(const wharf::Error& error) override
    {
        wharf::log::debug("echo: {}: {}", session_.remoteAddress(), error.what());
    }

private:
    void echoed(wharf::SendResult result) const
    {
        if (result) {
            if (session_.bufferedAmount() >= pauseAt_) session_.suspend();
            return;
        }
        // A closed session refuses quietly (it is going away). Anything else would mean
        // the queue arithmetic above is wrong: say so, and drop the client rather than
        // lie to it by skipping an echo.
        if (result.error() == wharf::Errc::SessionClosed || result.error() == wharf::Errc::ServerStopping) return;
        wharf::log::warn("echo: {}: echo refused ({}), closing", session_.remoteAddress(), result.error().message());
        session_.close(wharf::CloseStatus::PolicyViolation, "echo refused", wharf::CloseMode::DiscardQueued);
    }

    wharf::Session session_;
    std::size_t pauseAt_;
};

std::string browserHost(const std::string& host)
{
    if (host == "0.0.0.0" || host == "::" || host == "127.0.0.1" || host == "::1" || host.empty())
        return "localhost";
    if (host.find(':') != std::string::npos) return fmt::format("[{}]", host);
    return host;
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"wharf-echo: a WebSocket echo server at /echo"};
    app.footer("Signals: SIGINT or SIGTERM stops gracefully (clients get 1001), a second one at once; "
               "SIGHUP reloads --tls-cert and --tls-key.");
    int port = 9001;
    std::string host = "0.0.0.0";
    unsigned threads = 0;
    // Defaults a handful of clients cannot turn into gigabytes (issue 9): 1 MiB messages
    // and the server-wide memory budgets. Autobahn's 16 MiB cases need --max-message-size.
    long idleTimeoutSeconds = 60;
    std::size_t maxMessageSize = 1024 * 1024;
    bool noDeflate = false;
    app.add_option("--port", port, "TCP port to listen on (0 picks a free one)")
        ->capture_default_str()->check(CLI::Range(0, 65535));
    app.add_option("--host", host, "address to bind (0.0.0.0: all IPv4, ::: all IPv6)")->capture_default_str();
    app.add_option("--threads", threads, "server threads (0: one per hardware thread)")->capture_default_str();
    app.add_option("--idle-timeout", idleTimeoutSeconds,
                   "seconds without a message before a client is disconnected (0: never)")
        ->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--max-message-size", maxMessageSize,
                   "largest text or binary message in bytes; larger ones close with 1009")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_flag("--no-deflate", noDeflate, "turn permessage-deflate off");
    std::string tlsCert;
    std::string tlsKey;
    int tlsPort = 9443;
    bool noPlain = false;
    auto* certOption = app.add_option("--tls-cert", tlsCert, "PEM certificate chain, leaf first: serve wss too");
    auto* keyOption = app.add_option("--tls-key", tlsKey, "PEM private key of --tls-cert");
    certOption->needs(keyOption);
    keyOption->needs(certOption);
    app.add_option("--tls-port", tlsPort, "TCP port of the TLS connector")
        ->capture_default_str()->check(CLI::Range(0, 65535));
    app.add_flag("--no-plain", noPlain, "serve only TLS (needs --tls-cert)")->needs(certOption);
    bool metrics = false;
    app.add_flag("--metrics", metrics, "serve Prometheus metrics at /metrics and a health check at /health");
    samples::LimitOptions limitOptions;
    limitOptions.addTo(app);
    CLI11_PARSE(app, argc, argv);

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

        auto context = std::make_shared<wharf::ServletContextHandler>("/");
        context->addWebSocket("/echo/*", [&](wharf::WebSocketServletFactory& factory) {
            factory.setIdleTimeout(std::chrono::seconds(idleTimeoutSeconds));
            factory.setMaxMessageSize(maxMessageSize);
            // Room for a couple of the largest echoes in flight, so a client that sends
            // big messages back to back is not refused while it is still reading.
            factory.setMaxSendQueueSize(std::max(wharf::defaults::maxSendQueueSize, 2 * maxMessageSize));
            factory.setPermessageDeflate(!noDeflate);
            limitOptions.applyTo(factory);
            factory.addMapping<EchoListener>("/", maxMessageSize);
        });
        if (metrics) {
            context->addMetrics("/metrics");
            context->addHealth("/health");
        }
        server.setHandler(context);
        server.start();
    } catch (const std::exception& e) {
        fmt::print(stderr, "wharf-echo: {}\n", e.what());
        return 1;
    }

    if (!noPlain)
        fmt::print("wharf-echo: echoing at ws://{}:{}/echo (permessage-deflate {}, messages up to {} bytes)\n",
                   browserHost(host), server.port(), noDeflate ? "off" : "on", maxMessageSize);
    if (!tlsCert.empty())
        fmt::print("wharf-echo: echoing at wss://{}:{}/echo (permessage-deflate {}, messages up to {} bytes)\n",
                   browserHost(host), server.port(noPlain ? 0 : 1), noDeflate ? "off" : "on", maxMessageSize);
    std::fflush(stdout);

    server.join();  // until SIGINT/SIGTERM: setStopAtShutdown closes every session with 1001 first
    fmt::print("wharf-echo: stopped\n");
    return 0;
}
