// The examples of docs/operations.md. Compiled (not run) by tests/CMakeLists.txt so the
// docs cannot drift from the API. Each //[name ... //] block is quoted in the docs.

#include <wharf/wharf.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace docs {

//[limits
void configureLimits(wharf::Server& server, wharf::WebSocketServletFactory& factory)
{
    wharf::ConnectionLimits limits;
    limits.maxConnections = 20000;          // below `ulimit -n`, with room for files and listeners
    limits.maxSessions = 15000;             // over it: 503 with Retry-After
    limits.retryAfter = std::chrono::seconds(10);
    server.setConnectionLimits(limits);

    factory.setIdleTimeout(std::chrono::minutes(5));
    factory.setPingInterval(std::chrono::seconds(30));  // below nginx's proxy_read_timeout (60 s)
    factory.setPongTimeout(std::chrono::seconds(10));
}
//]

//[lifecycle
// A feed that stops producing and says goodbye when the server stops.
void stopFeedOnStop(wharf::Server& server, std::atomic<bool>& producing, const wharf::Session& subscriber)
{
    server.onStopping([&producing, subscriber] {
        producing = false;                                     // no more updates
        subscriber.sendText(R"({"type":"bye","reconnectIn":5})");  // goes out before the 1001
    });
}
//]

}  // namespace docs
