#pragma once
// The command-line options both samples share for the server's limits and keep-alive
// pings, with the library's defaults (docs/operations.md).

#include <wharf/wharf.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstddef>

namespace samples {

struct LimitOptions {
    std::size_t maxConnections = wharf::defaults::maxConnections;
    std::size_t maxSessions = wharf::defaults::maxSessions;
    double pingIntervalSeconds =
        std::chrono::duration<double>(wharf::defaults::pingInterval).count();

    /// --max-connections, --max-sessions, --ping-interval.
    void addTo(CLI::App& app)
    {
        app.add_option("--max-connections", maxConnections,
                       "open TCP connections at which the server stops accepting until some close (0: no bound)")
            ->capture_default_str();
        app.add_option("--max-sessions", maxSessions,
                       "open WebSocket sessions above which upgrades get 503 with Retry-After (0: no bound)")
            ->capture_default_str();
        app.add_option("--ping-interval", pingIntervalSeconds,
                       fmt::format("seconds without anything from a client before it is pinged; no answer within "
                                   "{} s drops it (0: no pings)",
                                   std::chrono::duration<double>(wharf::defaults::pongTimeout).count()))
            ->capture_default_str()->check(CLI::NonNegativeNumber);
    }

    void applyTo(wharf::Server& server) const
    {
        wharf::ConnectionLimits limits;
        limits.maxConnections = maxConnections;
        limits.maxSessions = maxSessions;
        server.setConnectionLimits(limits);
    }

    void applyTo(wharf::WebSocketServletFactory& factory) const
    {
        factory.setPingInterval(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(pingIntervalSeconds)));
    }
};

}  // namespace samples
