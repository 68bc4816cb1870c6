// The examples of docs/getting-started.md and docs/websocket.md. Compiled (not run) by
// tests/CMakeLists.txt so the docs cannot drift from the API. Each //[name ... //] block
// is quoted in the docs.

#include <wharf/wharf.hpp>

#include <fmt/format.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace docs {

//[listener
// One object per connection. Override only what you need.
class EchoEndPoint : public wharf::WebSocketAdapter {  // the adapter keeps the Session
public:
    void onText(std::string_view message) override { getSession().sendText(message); }
    void onBinary(std::span<const std::byte> data) override { getSession().sendBinary(data); }
    void onError(const wharf::Error& error) override { wharf::log::warn("echo: {}", error.what()); }
};
//]

//[room
// Sessions are cheap handles: keep them in a set, send from any thread.
class Room {
public:
    void join(const wharf::Session& s) { std::lock_guard l(m_); members_.insert(s); }
    void leave(const wharf::Session& s) { std::lock_guard l(m_); members_.erase(s); }
    void broadcast(std::string_view text)
    {
        const auto message = wharf::Message::text(text);  // framed once, shared by all sends
        std::vector<wharf::Session> copy;
        {
            std::lock_guard l(m_);
            copy.assign(members_.begin(), members_.end());
        }
        for (const auto& s : copy) s.send(message);  // never blocks; false if closed or full
    }

private:
    std::mutex m_;
    std::unordered_set<wharf::Session> members_;
};
//]

//[flow
// An echo that never drops and never buffers without bound: it stops reading a client
// whose echoes pile up, and reads on once they are out.
class FlowControlledEcho : public wharf::WebSocketAdapter {
public:
    void onText(std::string_view message) override
    {
        const auto& session = getSession();
        if (session.sendText(message) && session.bufferedAmount() >= pauseAt) session.suspend();
    }
    void onDrain() override { getSession().resume(); }

private:
    static constexpr std::size_t pauseAt = 256 * 1024;
};

// A feed that cannot wait for one slow consumer drops it, without sending its backlog first.
void publish(const wharf::Session& session, const wharf::Message& update)
{
    if (session.send(update).error() == wharf::Errc::SendQueueFull)
        session.close(wharf::CloseStatus::PolicyViolation, "too slow", wharf::CloseMode::DiscardQueued);
}
//]

//[servlet
// A plain HTTP endpoint; unimplemented methods get 405 with Allow.
class HealthServlet : public wharf::HttpServlet {
public:
    void doGet(wharf::Request&, wharf::Response& response) override
    {
        response.setContentType("application/json");
        response.setBody(R"({"status":"ok"})");
    }
};
//]

//[lambda
// A small endpoint needs no servlet class.
void addVersionEndpoint(wharf::ServletContextHandler& context)
{
    context.addGet("/version", [](const wharf::Request&, wharf::Response& response) {
        response.setContentType("text/plain");
        response.setBody("1.0\n");
    });
}
//]

//[creator
// The creator sees the upgrade request and may pick a subprotocol or refuse.
std::shared_ptr<wharf::WebSocketListener> createEndPoint(const wharf::UpgradeRequest& request,
                                                         wharf::UpgradeResponse& response)
{
    if (!request.queryParameter("token")) {
        response.reject(401, "missing token");
        return nullptr;
    }
    if (request.hasSubprotocol("echo.v1")) response.setAcceptedSubprotocol("echo.v1");
    return std::make_shared<EchoEndPoint>();
}
//]

//[addmapping
// addMapping<L>(spec, args...): std::ref shares your object with every listener;
// temporaries and moved values are copied into the mapping.
struct Registry {
    std::mutex mutex;
    std::unordered_set<wharf::Session> sessions;
};

class Member : public wharf::WebSocketAdapter {
public:
    Member(Registry& registry, const std::string& greeting) : registry_(registry), greeting_(greeting) {}
    void onConnect(wharf::Session session) override
    {
        WebSocketAdapter::onConnect(session);
        session.sendText(greeting_);
        std::lock_guard l(registry_.mutex);
        registry_.sessions.insert(session);
    }
    void onClose(wharf::CloseStatus status, std::string_view reason) override
    {
        WebSocketAdapter::onClose(status, reason);
        std::lock_guard l(registry_.mutex);
        registry_.sessions.erase(getSession());
    }

private:
    Registry& registry_;  // the caller's, thanks to std::ref
    std::string greeting_;
};

void addMembers(wharf::WebSocketServletFactory& factory, Registry& registry)
{
    std::string greeting = "hello";
    factory.addMapping<Member>("/", std::ref(registry), std::move(greeting));  // shared; moved in
    factory.addMapping<Member>("/hi", std::ref(registry), std::string("hi"));  // a temporary: copied
    // factory.addMapping<Member>("/", registry, greeting);  // does not compile: names std::ref
}
//]

//[server
int runServer()
{
    wharf::Server server;
    server.addConnector({"0.0.0.0", 8080, std::nullopt});  // host, port (0 = pick one), TLS
    server.setThreads(0);                                   // 0 = one per hardware thread
    server.setStopAtShutdown(true);                         // Ctrl-C / SIGTERM: graceful stop

    auto context = std::make_shared<wharf::ServletContextHandler>("/");
    context->addStaticFiles("/", "public");                 // index.html, CSS, JS
    context->addServlet("/health", std::make_shared<HealthServlet>());
    context->addWebSocket("/echo/*", [](wharf::WebSocketServletFactory& factory) {
        factory.setIdleTimeout(std::chrono::seconds(60));
        factory.setMaxMessageSize(1024 * 1024);
        factory.setPermessageDeflate(true);
        factory.addMapping("/echo/{channel}", createEndPoint);  // template values in the request
        factory.addMapping("/", createEndPoint);
    });
    server.setHandler(context);

    server.start();   // throws "port 8080 on 0.0.0.0 is already in use (EADDRINUSE)" and the like
    fmt::print("listening on port {}\n", server.port());
    server.join();    // until Ctrl-C / SIGTERM (or server.stop() from any thread)
    return 0;
}
//]

}  // namespace docs
