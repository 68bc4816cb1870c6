#pragma once
// What a server gives its WebSocket sessions: the deadline wheel they all sit on, the
// server-wide memory budgets, whether it is stopping, the count of live sessions and the
// metrics' counters.
// The HTTP server's state is one (ServerState derives from it); the WebSocket layer sees
// only this, so it depends on nothing above it.

#include "detail/DeadlineWheel.hpp"
#include "websocket/MetricCounters.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace wharf::detail {

class TopicRegistry;

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

/// A WebSocket connection (the owner of a DeadlineWheel node) as a Closable, or null
/// once it is being destroyed. Defined with WsConnection.
std::shared_ptr<Closable> lockWebSocket(void* owner);

/// A server-wide memory budget (Server::setWebSocketMemoryLimits): what all WebSocket
/// sessions hold together. Sessions add and subtract as they go; the one that takes the
/// total over the limit asks for enforcement, which closes the largest holders.
struct MemoryBudget {
    std::atomic<std::size_t> used{0};
    std::size_t limit = SIZE_MAX;
    std::atomic<bool> enforcing{false};  // an enforcement pass is posted or running
};

struct SessionHost {
    boost::asio::io_context& ioc;
    std::atomic<bool> stopping{false};  // set when stop() begins; sessions take no more sends
    std::atomic<std::size_t> webSocketCount{0};
    MemoryBudget sendBudget;     // bytes queued for sending
    MemoryBudget receiveBudget;  // bytes of messages being assembled
    DeadlineWheel deadlines;     // every session's deadline; also how stop() finds them
    std::shared_ptr<TopicRegistry> topics;  // the server's topics (none: sessions cannot subscribe)
    MetricCounters metrics;      // what Server::metrics() reports

    explicit SessionHost(boost::asio::io_context& io) : ioc(io), deadlines(io) {}
    virtual ~SessionHost() = default;
    SessionHost(const SessionHost&) = delete;
    SessionHost& operator=(const SessionHost&) = delete;

    /// The socket of a connection that came from the host's accept ended (an upgraded
    /// connection's end is its WsConnection's destruction); `remote` is its "ip:port".
    /// The server counts it against its connection limits.
    virtual void connectionEnded(std::string_view remote) noexcept { (void)remote; }
};

}  // namespace wharf::detail
