#pragma once
// Topics across several servers: the Redis broker (docs/scaling.md).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace wharf {

/// How a Server shares its topics with other servers through Redis (Server::setRedisBroker).
/// Every node that names the same Redis (and prefix) shares the same topics: a message
/// published on any node reaches every subscriber on every node exactly once, and all of
/// them see a topic's messages in one order.
struct RedisBrokerConfig {
    /// `redis://[:password@]host[:port][/db]`; the port defaults to 6379. `rediss://` is
    /// the same over TLS (TLS 1.2 or later): Redis's certificate is verified against
    /// `tlsCaFile` and must name the host.
    std::string url;
    /// PEM file of the CA(s) that sign Redis's certificate, for rediss://; empty: the
    /// system's trust store (/etc/ssl/certs).
    std::filesystem::path tlsCaFile;
    /// A publish not accepted by Redis within this time fails with Errc::BrokerUnavailable
    /// (also when Redis is unreachable at the time: the publish waits for a reconnect
    /// until then).
    std::chrono::milliseconds publishTimeout{std::chrono::seconds(1)};
    /// Messages kept per topic in Redis, from which a node repairs what it missed while its
    /// connection was down (or a subscriber recovers). Older ones are lost: onTopicGap.
    std::size_t historySize = 1000;
    /// A topic's history (and its offsets) expires this long after its last publish.
    std::chrono::seconds historyTtl{std::chrono::minutes(10)};
    /// Prefix of every key and channel, so that applications can share a Redis.
    std::string prefix = "wharf";
    /// A connection to Redis that received nothing for this long is sent a PING; one that
    /// answers nothing for as long again is dropped and connected anew.
    std::chrono::milliseconds pingInterval{std::chrono::seconds(1)};
    /// Delay before reconnecting, doubling from the first to the second, each with jitter
    /// (a random 50-100 %).
    std::chrono::milliseconds reconnectDelayMin{100};
    std::chrono::milliseconds reconnectDelayMax{std::chrono::seconds(5)};
};

/// What the broker is doing right now (Server::brokerState), for metrics and health.
struct BrokerState {
    bool configured = false;      ///< setRedisBroker was called
    bool connected = false;       ///< both connections to Redis are up
    std::size_t topics = 0;       ///< topics this node subscribes to in Redis
    std::size_t recovering = 0;   ///< of those, topics reading missed messages from history
    std::uint64_t connects = 0;   ///< connections made to Redis (both kinds, reconnects included)
    std::uint64_t resubscribes = 0;  ///< topics subscribed again after a reconnect
    std::uint64_t recovered = 0;  ///< messages delivered from history after a gap
    std::uint64_t gaps = 0;       ///< gaps that history could not fill (onTopicGap)
    std::uint64_t published = 0;  ///< publishes Redis accepted
    std::uint64_t failed = 0;     ///< publishes that failed (Errc::BrokerUnavailable)
    std::size_t pending = 0;      ///< publishes waiting for Redis's answer
};

}  // namespace wharf
