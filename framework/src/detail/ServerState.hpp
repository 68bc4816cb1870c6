#pragma once
// What every connection of a Server shares: configuration, the handler and the registry.

#include <wharf/Handler.hpp>
#include <wharf/Server.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace wharf::detail {

/// Something stop() must close: an HTTP connection or a WebSocket session.
class Closable {
public:
    virtual ~Closable() = default;
    /// Begin a graceful close (HTTP: after the current response; WebSocket: 1001).
    virtual void gracefulClose() = 0;
    /// Close the socket now.
    virtual void forceClose() = 0;
    virtual bool isWebSocket() const noexcept { return false; }
};

struct ServerState {
    boost::asio::io_context& ioc;
    std::shared_ptr<Handler> handler;
    HttpLimits limits;
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> webSocketCount{0};

    explicit ServerState(boost::asio::io_context& io) : ioc(io) {}

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
    /// Copies the live connections (to act on them outside the lock).
    std::vector<std::shared_ptr<Closable>> snapshot()
    {
        std::vector<std::shared_ptr<Closable>> out;
        std::lock_guard lock(mutex_);
        out.reserve(live_.size());
        for (auto& [id, weak] : live_)
            if (auto c = weak.lock()) out.push_back(std::move(c));
        return out;
    }
    std::size_t liveCount()
    {
        std::lock_guard lock(mutex_);
        return live_.size();
    }

private:
    std::mutex mutex_;
    std::uint64_t nextId_ = 0;
    std::unordered_map<std::uint64_t, std::weak_ptr<Closable>> live_;
};

}  // namespace wharf::detail
