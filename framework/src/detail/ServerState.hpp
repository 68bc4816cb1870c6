#pragma once
// What every connection of a Server shares: configuration, the handler and the registry,
// and what its WebSocket sessions share (PolledHost: a SessionHost with the Poller).

#include <wharf/Error.hpp>
#include <wharf/Handler.hpp>
#include <wharf/Server.hpp>

#include "broker/RedisBroker.hpp"
#include "detail/Poller.hpp"
#include "detail/WsConnection.hpp"
#include "handler/ServerView.hpp"
#include "http/ConnectionLimiter.hpp"
#include "websocket/SessionHost.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wharf::detail {

/// Connections share a fixed set of strands instead of allocating one each (~110 B of
/// heap per connection): two connections on one strand are merely never run at the same
/// time. 64 per thread keeps that rare where it would cost parallelism. Each strand has
/// its FlushGroup: the connections on it that have sends to flush go in one hand-off.
class StrandPool {
public:
    using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
    StrandPool(boost::asio::io_context& ioc, unsigned threads)
    {
        const std::size_t n = 64 * std::max(1u, threads);
        groups_.reserve(n);
        for (std::size_t i = 0; i < n; ++i) groups_.push_back(std::make_unique<FlushGroup>(boost::asio::make_strand(ioc)));
    }
    Strand next() noexcept
    {
        return groups_[next_.fetch_add(1, std::memory_order_relaxed) % groups_.size()]->strand();
    }
    /// The group of a strand from next() (null for any other).
    FlushGroup* groupOf(const Strand& strand) const noexcept
    {
        for (const auto& g : groups_)
            if (g->strand() == strand) return g.get();
        return nullptr;
    }

private:
    std::vector<std::unique_ptr<FlushGroup>> groups_;
    std::atomic<std::size_t> next_{0};
};

struct ServerState : PolledHost, ServerView {
    std::shared_ptr<Handler> handler;
    HttpLimits limits;
    StrandPool strands;

    ConnectionLimiter connections;
    std::atomic<bool> stopBegun{false};  // stop() was called (stopping follows the onStopping listeners)
    std::size_t maxSessions = 0;    // ConnectionLimits::maxSessions (0: no bound)
    std::string retryAfter;         // its Retry-After, in seconds
    std::atomic<std::size_t> upgrading{0};  // upgrades admitted, their session not started yet

    ServerState(boost::asio::io_context& io, unsigned threads) : PolledHost(io, threads), strands(io, threads) {}

    FlushGroup* flushGroupFor(const StrandPool::Strand& strand) override { return strands.groupOf(strand); }

    void connectionEnded(std::string_view remote) noexcept override { connections.closed(remote); }

    /// Reserves a session for an upgrade request (released by endUpgrade once its session
    /// has started or the upgrade did not happen); false at ConnectionLimits::maxSessions.
    bool beginUpgrade()
    {
        const std::size_t before = upgrading.fetch_add(1);
        if (!maxSessions || webSocketCount.load() + before < maxSessions) return true;
        upgrading.fetch_sub(1);
        return false;
    }
    void endUpgrade() noexcept { upgrading.fetch_sub(1); }

    std::uint64_t add(std::weak_ptr<Closable> c)
    {
        std::lock_guard lock(mutex_);
        const auto id = ++nextId_;
        live_.emplace(id, std::move(c));
        return id;
    }
    void remove(std::uint64_t id)
    {
        std::lock_guard lock(mutex_);
        live_.erase(id);
    }
    /// Copies the live connections (to act on them outside the lock): the HTTP ones of
    /// the registry and the WebSocket ones, which are not in it (an entry per idle
    /// session costs ~50 B) but on the deadline wheel anyway.
    std::vector<std::shared_ptr<Closable>> snapshot()
    {
        std::vector<std::shared_ptr<Closable>> out;
        {
            std::lock_guard lock(mutex_);
            out.reserve(live_.size());
            for (auto& [id, weak] : live_)
                if (auto c = weak.lock()) out.push_back(std::move(c));
        }
        deadlines.forEach([&](void* owner) {
            if (auto c = lockWebSocket(owner)) out.push_back(std::move(c));
        });
        return out;
    }
    /// HTTP connections plus WebSocket sessions not yet ended.
    std::size_t liveCount()
    {
        std::lock_guard lock(mutex_);
        return live_.size() + webSocketCount.load();
    }
    MetricsSnapshot metricsSnapshot() override
    {
        auto s = metrics.snapshot();
        s.connectionsOpen = liveCount();
        s.sessionsOpen = webSocketCount.load(std::memory_order_relaxed);
        s.bytesQueued = sendBudget.used.load(std::memory_order_relaxed);
        if (broker) s.broker = broker->state();
        return s;
    }
    bool isStopping() const noexcept override { return stopBegun.load() || stopping.load(); }
    bool isBrokerDown() const override { return broker && !broker->state().connected; }

    std::shared_ptr<RedisBroker> broker;  // Server::setRedisBroker

private:
    std::mutex mutex_;
    std::uint64_t nextId_ = 0;
    std::unordered_map<std::uint64_t, std::weak_ptr<Closable>> live_;
};

}  // namespace wharf::detail
