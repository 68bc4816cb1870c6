#pragma once
// What a handler may ask of the server that routed its request: its metrics and whether it
// is stopping (the metrics and health endpoints, ServletContextHandler::addMetrics /
// addHealth). The server's state implements it; the handler tree sees only this, so it
// depends on nothing above it (as the WebSocket layer sees only SessionHost).

#include <wharf/Metrics.hpp>

namespace wharf::detail {

class ServerView {
public:
    /// Thread-safety: both from any thread.
    virtual MetricsSnapshot metricsSnapshot() = 0;
    virtual bool isStopping() const noexcept = 0;
    /// A Redis broker is configured and not connected: publishes cannot reach other nodes.
    virtual bool isBrokerDown() const = 0;

protected:
    ~ServerView() = default;
};

}  // namespace wharf::detail
