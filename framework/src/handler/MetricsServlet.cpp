// The metrics and health endpoints (ServletContextHandler::addMetrics / addHealth): the
// server's MetricsSnapshot in the Prometheus text exposition format 0.0.4, and 200 or 503
// for a load balancer. Both read the server through the request (detail::ServerView).

#include "handler/MetricsServlet.hpp"

#include "handler/RequestBuilder.hpp"
#include "handler/ServerView.hpp"

#include <wharf/ServletContextHandler.hpp>

#include <fmt/format.h>

#include <array>
#include <iterator>
#include <string_view>

namespace wharf {

namespace detail {

namespace {

/// The label of a reason in countedSendRefusals.
std::string refusalName(Errc reason)
{
    switch (reason) {
    case Errc::SendQueueFull: return "SendQueueFull";
    case Errc::SessionClosed: return "SessionClosed";
    case Errc::ServerStopping: return "ServerStopping";
    case Errc::InvalidArgument: return "InvalidArgument";
    default: return fmt::format("Errc{}", static_cast<int>(reason));  // (a reason added to the set without a name here)
    }
}

/// Appends the text format's lines for one metric family.
class Exposition {
public:
    explicit Exposition(std::string& out) : out_(out) {}

    void family(std::string_view name, std::string_view type, std::string_view help)
    {
        fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    template <class V>
    void sample(std::string_view name, V value, std::string_view labels = {})
    {
        if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
        else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
    }
    void single(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value)
    {
        family(name, type, help);
        sample(name, value);
    }
    /// The samples of a counter kept per entry of `set` plus "other" (the last value),
    /// labelled `label="<text(entry)>"`.
    template <class T, std::size_t N, std::size_t M, class Text>
    void perEntry(std::string_view name, const std::array<std::uint64_t, M>& values, const std::array<T, N>& set,
                  std::string_view label, Text text)
    {
        static_assert(M == N + 1, "one value per entry, and one for the others");
        for (std::size_t i = 0; i < M; ++i)
            sample(name, values[i], fmt::format("{}=\"{}\"", label, i < N ? text(set[i]) : std::string("other")));
    }
    void histogram(std::string_view name, std::string_view help, const DurationHistogram& h)
    {
        family(name, "histogram", help);
        const std::string bucket = fmt::format("{}_bucket", name);
        for (std::size_t i = 0; i < durationBuckets.size(); ++i)
            sample(bucket, h.cumulative[i], fmt::format("le=\"{}\"", durationBuckets[i]));
        sample(bucket, h.count, "le=\"+Inf\"");
        sample(fmt::format("{}_sum", name), h.sumSeconds);
        sample(fmt::format("{}_count", name), h.count);
    }

private:
    std::string& out_;
};

class MetricsServlet final : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        auto* server = RequestBuilder(request).server();
        if (!server) return response.sendError(503, "no server");
        response.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        response.setHeader("Cache-Control", "no-store");
        response.setBody(formatPrometheus(server->metricsSnapshot()));
    }
};

class HealthServlet final : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        auto* server = RequestBuilder(request).server();
        const char* down = !server                  ? "no server\n"
                           : server->isStopping()   ? "stopping\n"
                           : server->isBrokerDown() ? "broker unavailable\n"
                                                    : nullptr;
        response.setStatus(down ? 503 : 200);
        response.setHeader("Content-Type", "text/plain; charset=utf-8");
        response.setHeader("Cache-Control", "no-store");
        response.setBody(down ? down : "ok\n");
    }
};

}  // namespace

std::string formatPrometheus(const MetricsSnapshot& m)
{
    std::string out;
    Exposition e(out);
    e.single("wharf_connections_open", "gauge",
             "Open connections: HTTP connections past any TLS handshake, and WebSocket sessions.", m.connectionsOpen);
    e.single("wharf_websocket_sessions_open", "gauge", "Open WebSocket sessions.", m.sessionsOpen);
    e.single("wharf_websocket_queued_bytes", "gauge", "Bytes all sessions have queued for sending, not yet written.",
             m.bytesQueued);
    e.single("wharf_topics", "gauge", "Topics with at least one subscriber.", m.topics);
    e.single("wharf_topic_subscribers", "gauge", "Subscriptions to topics.", m.subscribers);
    e.single("wharf_connections_accepted_total", "counter", "TCP connections accepted, plain and TLS.",
             m.connectionsAcceptedTotal);

    e.family("wharf_websocket_upgrades_total", "counter",
             "WebSocket upgrade requests by result and status (101: accepted).");
    e.sample("wharf_websocket_upgrades_total", m.upgradesAcceptedTotal, "result=\"accepted\",status=\"101\"");
    e.perEntry("wharf_websocket_upgrades_total", m.upgradesRefusedTotal, upgradeRefusalStatuses,
               "result=\"refused\",status", [](int status) { return std::to_string(status); });

    e.single("wharf_websocket_messages_received_total", "counter", "Data messages delivered to listeners.",
             m.messagesReceivedTotal);
    e.single("wharf_websocket_messages_sent_total", "counter", "Data messages accepted by a send.",
             m.messagesSentTotal);
    e.single("wharf_websocket_received_bytes_total", "counter", "Payload bytes of the messages received (inflated).",
             m.bytesReceivedTotal);
    e.single("wharf_websocket_sent_bytes_total", "counter", "Payload bytes of the messages sent (before deflating).",
             m.bytesSentTotal);

    e.family("wharf_websocket_sends_refused_total", "counter", "Sends refused, by reason.");
    e.perEntry("wharf_websocket_sends_refused_total", m.sendsRefusedTotal, countedSendRefusals, "reason", refusalName);
    e.single("wharf_websocket_send_queues_dropped_total", "counter",
             "Send queues discarded while not empty (close, memory budget, end of the connection).",
             m.sendQueuesDroppedTotal);
    e.single("wharf_websocket_dropped_bytes_total", "counter", "Bytes in the discarded send queues.",
             m.bytesDroppedTotal);

    e.family("wharf_websocket_closes_total", "counter", "Sessions ended, by the close code their listener got.");
    e.perEntry("wharf_websocket_closes_total", m.closesTotal, countedCloseStatuses, "code",
               [](CloseStatus code) { return std::to_string(static_cast<int>(code)); });

    e.single("wharf_tls_handshake_failures_total", "counter", "TLS handshakes that failed or timed out.",
             m.tlsHandshakeFailuresTotal);
    if (m.broker.configured) {
        const auto& b = m.broker;
        e.single("wharf_broker_connected", "gauge", "1 while both connections to Redis are up.", b.connected ? 1 : 0);
        e.single("wharf_broker_topics", "gauge", "Topics this node subscribes to in Redis.", b.topics);
        e.single("wharf_broker_topics_recovering", "gauge", "Topics reading missed messages from the history.",
                 b.recovering);
        e.single("wharf_broker_publishes_pending", "gauge", "Publishes waiting for Redis's answer.", b.pending);
        e.single("wharf_broker_connects_total", "counter", "Connections made to Redis, reconnects included.", b.connects);
        e.single("wharf_broker_resubscribes_total", "counter", "Topics subscribed again after a reconnect.",
                 b.resubscribes);
        e.single("wharf_broker_recovered_messages_total", "counter", "Messages delivered from the history after a gap.",
                 b.recovered);
        e.single("wharf_broker_gaps_total", "counter", "Gaps the history could not fill (subscribers were told).",
                 b.gaps);
        e.single("wharf_broker_publishes_total", "counter", "Publishes Redis accepted.", b.published);
        e.single("wharf_broker_publish_failures_total", "counter", "Publishes that failed (broker unavailable).",
                 b.failed);
    }
    e.histogram("wharf_websocket_handshake_duration_seconds",
                "From the first byte of an upgrade request to its 101 written.", m.handshakeSeconds);
    e.histogram("wharf_tls_handshake_duration_seconds", "From the accept of a TLS connection to its handshake done.",
                m.tlsHandshakeSeconds);
    return out;
}

}  // namespace detail

void ServletContextHandler::addMetrics(std::string_view pathSpec)
{
    addServletImpl(pathSpec, std::make_shared<detail::MetricsServlet>());
}

void ServletContextHandler::addHealth(std::string_view pathSpec)
{
    addServletImpl(pathSpec, std::make_shared<detail::HealthServlet>());
}

}  // namespace wharf
