// Server::metrics() and the /metrics and /health endpoints after known traffic: exact
// counts, and the exposition as the reference Prometheus parser reads it.

#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include <wharf/wharf.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>

using namespace wharf;
using namespace wharf::test;

namespace {

/// Echoes, except "refuse": closes with 1008, then sends (refused with SessionClosed).
class Endpoint : public EchoListener {
public:
    void onText(std::string_view m) override
    {
        if (m != "refuse") return EchoListener::onText(m);
        getSession().close(CloseStatus::PolicyViolation, "bye");
        getSession().sendText("too late");
    }
};

const std::array<std::size_t, 5> sizes{1, 10, 100, 1000, 10000};
constexpr std::size_t echoedBytes = 11111;

/// Waits up to 5 s for `done` to hold for a snapshot of `server`; returns the last snapshot.
MetricsSnapshot waitForMetrics(const Server& server, const std::function<bool(const MetricsSnapshot&)>& done)
{
    auto m = server.metrics();
    for (int tries = 0; tries < 500 && !done(m); ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, not synchronising
        m = server.metrics();
    }
    return m;
}

/// A server with /echo, /metrics and /health, and in front of them a handler that begins
/// stop() for a request with the query "stop" and lets the others answer it.
struct MetricsServer {
    Server server;

    MetricsServer()
    {
        server.addConnector(ServerConnector{"127.0.0.1", 0});
        server.setThreads(2);
        auto context = std::make_shared<ServletContextHandler>("/");
        context->addWebSocket("/echo", [](WebSocketServletFactory& f) {
            f.addMapping("/", [](const UpgradeRequest&, UpgradeResponse&) { return std::make_shared<Endpoint>(); });
        });
        context->addMetrics("/metrics");
        context->addHealth("/health");
        server.setHandler(std::make_shared<HandlerList>(std::vector<std::shared_ptr<Handler>>{
            std::make_shared<StopHandler>(server), context}));
        server.start();
    }
    ~MetricsServer() { server.stop(); }

private:
    struct StopHandler : Handler {
        explicit StopHandler(Server& s) : server(s) {}
        bool handle(Request& request, Response&) override
        {
            if (request.queryString() == "stop") server.stop();  // on a server thread: returns at once, stopping
            return false;
        }
        Server& server;
    };
};

/// The known traffic: 5 echoes and a client close with 1000; a session the server closes
/// with 1008 after a refused send; an upgrade to a path nobody serves (404); one with
/// Sec-WebSocket-Version 8 (426).
void knownTraffic(std::uint16_t port)
{
    RawClient echo(port);
    REQUIRE(echo.handshake("/echo").status == 101);
    for (auto size : sizes) {
        echo.sendText(std::string(size, 'x'));
        auto f = echo.readFrame();
        REQUIRE(f);
        CHECK(f->payload.size() == size);
    }
    echo.sendClose(1000);
    REQUIRE(echo.readUntilClose());
    CHECK(echo.waitForEof());

    RawClient refused(port);
    REQUIRE(refused.handshake("/echo").status == 101);
    refused.sendText("refuse");
    auto close = refused.readUntilClose();
    REQUIRE(close);
    CHECK(close->closeCode() == 1008);
    refused.sendClose(1008);
    CHECK(refused.waitForEof());

    CHECK(RawClient(port).handshake("/nowhere").status == 404);
    RawClient oldVersion(port);
    oldVersion.sendRaw("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    CHECK(oldVersion.readResponse().status == 426);
}

/// Every connection of knownTraffic has ended on the server's side too.
bool ended(const MetricsSnapshot& m)
{
    return m.connectionsOpen == 0 && m.sessionsOpen == 0 && m.closesWith(CloseStatus::PolicyViolation) == 1;
}

/// What the reference parser (tests/support/parse-prometheus.py) reads in `text`.
std::string parsePrometheus(const std::string& text)
{
    const auto file = std::filesystem::temp_directory_path() / ("wharf-metrics-" + std::to_string(::getpid()) + ".txt");
    std::ofstream(file) << text;
    const std::string command = std::string(WHARF_PYTHON3) + " " + WHARF_PARSE_PROMETHEUS + " < " + file.string();
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        std::array<char, 4096> chunk;
        while (auto n = std::fread(chunk.data(), 1, chunk.size(), p)) out.append(chunk.data(), n);
        const int status = ::pclose(p);
        CHECK_MESSAGE(status == 0, "the Prometheus parser refused the exposition (or is missing: "
                                   "scripts/install-deps.sh --tests installs python3-prometheus-client)");
    }
    std::filesystem::remove(file);
    return out;
}

}  // namespace

TEST_SUITE("metrics")
{
    TEST_CASE("after known traffic the snapshot holds exactly what happened")
    {
        MetricsServer s;
        knownTraffic(s.server.port());
        const auto m = waitForMetrics(s.server, ended);
        CHECK(m.connectionsAcceptedTotal == 4);
        CHECK(m.connectionsOpen == 0);
        CHECK(m.sessionsOpen == 0);
        CHECK(m.bytesQueued == 0);
        CHECK(m.upgradesAcceptedTotal == 2);
        CHECK(m.upgradesRefusedWith(404) == 1);
        CHECK(m.upgradesRefusedWith(426) == 1);
        CHECK(m.upgradesRefusedWith(400) == 0);
        CHECK(m.messagesReceivedTotal == sizes.size() + 1);
        CHECK(m.bytesReceivedTotal == echoedBytes + 6);  // + "refuse"
        CHECK(m.messagesSentTotal == sizes.size());
        CHECK(m.bytesSentTotal == echoedBytes);
        CHECK(m.sendsRefusedWith(Errc::SessionClosed) == 1);
        CHECK(m.sendsRefusedWith(Errc::SendQueueFull) == 0);
        CHECK(m.closesWith(CloseStatus::Normal) == 1);
        CHECK(m.closesWith(CloseStatus::PolicyViolation) == 1);
        CHECK(m.closesWith(CloseStatus::Abnormal) == 0);
        CHECK(m.handshakeSeconds.count == 2);
        CHECK(m.handshakeSeconds.sumSeconds > 0);
        CHECK(m.handshakeSeconds.cumulative.back() <= 2);
        CHECK(m.tlsHandshakeSeconds.count == 0);
        CHECK(m.topics == 0);
    }

    TEST_CASE("/metrics is Prometheus text that the reference parser reads with the same values")
    {
        MetricsServer s;
        knownTraffic(s.server.port());
        waitForMetrics(s.server, ended);
        RawClient client(s.server.port());
        const auto r = client.get("/metrics");
        REQUIRE(r.status == 200);
        CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
        const std::string parsed = parsePrometheus(r.body);
        const auto has = [&](const std::string& line) {
            CAPTURE(line);
            CHECK(parsed.find(line + "\n") != std::string::npos);
        };
        CHECK(parsed.find(" unknown\n") == std::string::npos);  // every family has its TYPE
        has("TYPE wharf_websocket_sessions_open gauge");
        has("TYPE wharf_websocket_messages_received counter");
        has("TYPE wharf_websocket_handshake_duration_seconds histogram");
        has("wharf_connections_open 1");  // this request's connection
        has("wharf_connections_accepted_total 5");
        has("wharf_websocket_sessions_open 0");
        has("wharf_websocket_upgrades_total{result=\"accepted\",status=\"101\"} 2");
        has("wharf_websocket_upgrades_total{result=\"refused\",status=\"404\"} 1");
        has("wharf_websocket_upgrades_total{result=\"refused\",status=\"426\"} 1");
        has("wharf_websocket_upgrades_total{result=\"refused\",status=\"other\"} 0");
        has("wharf_websocket_messages_received_total 6");
        has("wharf_websocket_received_bytes_total 11117");
        has("wharf_websocket_messages_sent_total 5");
        has("wharf_websocket_sent_bytes_total 11111");
        has("wharf_websocket_sends_refused_total{reason=\"SessionClosed\"} 1");
        has("wharf_websocket_closes_total{code=\"1000\"} 1");
        has("wharf_websocket_closes_total{code=\"1008\"} 1");
        has("wharf_websocket_closes_total{code=\"other\"} 0");
        has("wharf_websocket_handshake_duration_seconds_bucket{le=\"+Inf\"} 2");
        has("wharf_websocket_handshake_duration_seconds_count 2");
        has("wharf_tls_handshake_duration_seconds_count 0");
    }

    TEST_CASE("TLS handshakes: a successful one in the histogram, plain HTTP on the TLS port as a failure")
    {
        const auto& certs = TlsTestCerts::get();
        Server server;
        server.addConnector(ServerConnector{"127.0.0.1", 0, certs.sslConfig()});
        server.setThreads(2);
        auto context = std::make_shared<ServletContextHandler>("/");
        context->addWebSocket("/echo", [](WebSocketServletFactory& f) {
            f.addMapping("/", [](const UpgradeRequest&, UpgradeResponse&) { return std::make_shared<Endpoint>(); });
        });
        server.setHandler(context);
        server.start();
        {
            TlsClient client(server.port(), certs.caCertificate);
            client.upgrade("/echo");
            client.sendText("over tls");
            CHECK(client.read()->data == "over tls");
            client.close();
        }
        RawClient plain(server.port());
        plain.sendRaw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");  // not a ClientHello
        CHECK(plain.waitForEof());
        const auto m = waitForMetrics(server, [](const MetricsSnapshot& s) { return s.tlsHandshakeFailuresTotal == 1; });
        CHECK(m.tlsHandshakeFailuresTotal == 1);
        CHECK(m.tlsHandshakeSeconds.count == 1);
        CHECK(m.tlsHandshakeSeconds.sumSeconds > 0);
        CHECK(m.handshakeSeconds.count == 1);  // the upgrade, after the TLS handshake
        CHECK(m.upgradesAcceptedTotal == 1);
        CHECK(m.connectionsAcceptedTotal == 2);
        server.stop();
    }

    TEST_CASE("/health answers 200 while the server runs and 503 once stop() has begun")
    {
        MetricsServer s;
        RawClient client(s.server.port());
        auto r = client.get("/health");
        CHECK(r.status == 200);
        CHECK(r.body == "ok\n");
        r = client.get("/health?stop");  // the handler in front begins stop(), then /health answers
        CHECK(r.status == 503);
        CHECK(r.body == "stopping\n");
        s.server.join();
    }
}
