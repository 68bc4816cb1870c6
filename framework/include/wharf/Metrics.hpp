#pragma once
// What a running server has counted: Server::metrics() returns it, and
// ServletContextHandler::addMetrics serves it in the Prometheus text format
// (docs/operations.md, "Metrics", lists every value and what to alert on).

#include <wharf/Broker.hpp>
#include <wharf/CloseStatus.hpp>
#include <wharf/Error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace wharf {

/// Refused upgrades are counted by these statuses (the ones wharf answers with itself:
/// 400 malformed handshake, 403 origin or creator refusal, 404 no endpoint, 426 wrong
/// version, 429 and 503 for a refusal by load); any other status counts as "other".
inline constexpr std::array<int, 6> upgradeRefusalStatuses{400, 403, 404, 426, 429, 503};
/// Ended sessions are counted by these close codes; any other counts as "other".
inline constexpr std::array<CloseStatus, 9> countedCloseStatuses{
    CloseStatus::Normal,         CloseStatus::GoingAway,      CloseStatus::ProtocolError,
    CloseStatus::UnsupportedData, CloseStatus::Abnormal,      CloseStatus::InvalidPayload,
    CloseStatus::PolicyViolation, CloseStatus::MessageTooBig, CloseStatus::InternalError};
/// Refused sends are counted by these reasons; any other counts as "other".
inline constexpr std::array<Errc, 4> countedSendRefusals{Errc::SendQueueFull, Errc::SessionClosed,
                                                         Errc::ServerStopping, Errc::InvalidArgument};
/// Upper bounds, in seconds, of the duration histograms' buckets (the last bucket, +Inf,
/// is `count`). From a loopback handshake (~0.1 ms) to one that nearly timed out.
inline constexpr std::array<double, 12> durationBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

/// Durations as a Prometheus histogram: cumulative counts per bucket of durationBuckets.
struct DurationHistogram {
    std::array<std::uint64_t, durationBuckets.size()> cumulative{};  ///< observations <= durationBuckets[i]
    std::uint64_t count = 0;                                         ///< all observations (the +Inf bucket)
    double sumSeconds = 0;
};

/// One consistent-enough reading of a server's counters: each value is read atomically,
/// but values counted while the snapshot is taken may be in some fields and not yet in
/// others. Counters (`...Total`) only grow while the server runs; gauges are "right now".
/// A server that is not running reports zeros.
struct MetricsSnapshot {
    // Gauges.
    std::uint64_t connectionsOpen = 0;  ///< HTTP connections (past any TLS handshake) plus WebSocket sessions
    std::uint64_t sessionsOpen = 0;     ///< WebSocket sessions between onConnect and the end of onClose
    std::uint64_t bytesQueued = 0;      ///< bytes all sessions have queued for sending, not yet written
    /// Topics with at least one subscriber, and subscriptions (a session in three topics
    /// counts three times).
    std::uint64_t topics = 0;
    std::uint64_t subscribers = 0;

    // Counters.
    std::uint64_t connectionsAcceptedTotal = 0;  ///< TCP connections accepted, plain and TLS
    std::uint64_t upgradesAcceptedTotal = 0;     ///< WebSocket upgrades answered with 101
    /// Upgrade requests (`Upgrade: websocket`) answered otherwise, by status: the index of
    /// the status in upgradeRefusalStatuses, the last one "other".
    std::array<std::uint64_t, upgradeRefusalStatuses.size() + 1> upgradesRefusedTotal{};
    std::uint64_t messagesReceivedTotal = 0;  ///< whole data messages delivered to listeners
    std::uint64_t messagesSentTotal = 0;      ///< data messages accepted by a send (not refused)
    std::uint64_t bytesReceivedTotal = 0;     ///< payload bytes of those messages (after inflating)
    std::uint64_t bytesSentTotal = 0;         ///< payload bytes of those messages (before deflating)
    /// Sends refused, by reason: the index in countedSendRefusals, the last one "other".
    /// A send on a Session whose connection is already gone is not counted (no server is left to count it).
    std::array<std::uint64_t, countedSendRefusals.size() + 1> sendsRefusedTotal{};
    std::uint64_t sendQueuesDroppedTotal = 0;  ///< non-empty send queues discarded (close, budget, end of the connection)
    std::uint64_t bytesDroppedTotal = 0;       ///< bytes in those queues
    /// Sessions ended, by the close status onClose got: the index in countedCloseStatuses,
    /// the last one "other".
    std::array<std::uint64_t, countedCloseStatuses.size() + 1> closesTotal{};
    std::uint64_t tlsHandshakeFailuresTotal = 0;  ///< failed or timed-out TLS handshakes

    /// The Redis broker (Server::setRedisBroker); `configured` false without one.
    BrokerState broker;

    /// From the first byte of an upgrade request to its 101 written.
    DurationHistogram handshakeSeconds;
    /// From the accept of a TLS connection to its handshake done (successful ones only).
    DurationHistogram tlsHandshakeSeconds;

    /// Refused upgrades with `status` (other statuses: those not in upgradeRefusalStatuses).
    std::uint64_t upgradesRefusedWith(int status) const noexcept
    {
        return upgradesRefusedTotal[indexOf(upgradeRefusalStatuses, status)];
    }
    /// Sessions that ended with `status`.
    std::uint64_t closesWith(CloseStatus status) const noexcept
    {
        return closesTotal[indexOf(countedCloseStatuses, status)];
    }
    /// Sends refused with `reason`.
    std::uint64_t sendsRefusedWith(Errc reason) const noexcept
    {
        return sendsRefusedTotal[indexOf(countedSendRefusals, reason)];
    }

    /// The index of `value` in `set`, or set.size() ("other").
    template <class T, std::size_t N>
    static constexpr std::size_t indexOf(const std::array<T, N>& set, T value) noexcept
    {
        for (std::size_t i = 0; i < N; ++i)
            if (set[i] == value) return i;
        return N;
    }
};

}  // namespace wharf
