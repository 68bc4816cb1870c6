#pragma once
// Servlets mapped by path spec inside a context, plus static files and WebSocket endpoints.

#include <wharf/Handler.hpp>

#include <filesystem>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <string_view>

namespace wharf {

class WebSocketServletFactory;

/// A plain HTTP endpoint (Jetty's HttpServlet). Unoverridden methods answer 405 with
/// an Allow header listing the ones that are overridden (learned from the servlet's type
/// when it is added, so declare the overrides public). HEAD defaults to GET without the body; OPTIONS answers 204 with Allow.
/// Thread-safety: called from any server thread at once.
class HttpServlet {
public:
    enum Method : std::uint32_t { Get = 1, Head = 2, Post = 4, Put = 8, Delete = 16, Patch = 32, Options = 64 };

    virtual ~HttpServlet() = default;
    /// Dispatches on the method; unknown methods get 501.
    virtual void service(Request& request, Response& response);

    virtual void doGet(Request& request, Response& response);
    virtual void doHead(Request& request, Response& response);
    virtual void doPost(Request& request, Response& response);
    virtual void doPut(Request& request, Response& response);
    virtual void doDelete(Request& request, Response& response);
    virtual void doPatch(Request& request, Response& response);
    virtual void doOptions(Request& request, Response& response);

    /// The methods the servlet answers (bits of Method); set by addServlet.
    void setImplementedMethods(std::uint32_t methods) noexcept { implemented_ = methods | Options; }
    std::uint32_t implementedMethods() const noexcept { return implemented_; }
    /// "GET, HEAD, OPTIONS" for the implemented methods.
    std::string allowHeader() const;

    /// The methods S overrides, found at compile time.
    template <class S>
    static std::uint32_t overriddenMethods() noexcept
    {
        using Base = void (HttpServlet::*)(Request&, Response&);
        std::uint32_t m = Options;
        if constexpr (!std::is_same_v<decltype(&S::doGet), Base>) m |= Get | Head;
        if constexpr (!std::is_same_v<decltype(&S::doHead), Base>) m |= Head;
        if constexpr (!std::is_same_v<decltype(&S::doPost), Base>) m |= Post;
        if constexpr (!std::is_same_v<decltype(&S::doPut), Base>) m |= Put;
        if constexpr (!std::is_same_v<decltype(&S::doDelete), Base>) m |= Delete;
        if constexpr (!std::is_same_v<decltype(&S::doPatch), Base>) m |= Patch;
        return m;
    }

protected:
    /// Answers 405 with Allow; what the default do-methods call.
    void methodNotAllowed(Response& response) const;

private:
    std::uint32_t implemented_ = Get | Head | Post | Put | Delete | Patch | Options;
};

/// A context whose requests go to servlets by servlet path spec:
///   exact "/chat", prefix "/api/*", suffix "*.html", default "/", URI template "/rooms/{room}".
/// Precedence: exact, then templates (more literal characters first), then the longest
/// prefix, then suffix, then default.
/// Malformed specs throw std::invalid_argument at the add call, naming the spec.
class ServletContextHandler : public ContextHandler {
public:
    explicit ServletContextHandler(std::string contextPath = "/");
    ~ServletContextHandler() override;

    template <class S>
        requires std::derived_from<S, HttpServlet>
    void addServlet(std::string_view pathSpec, std::shared_ptr<S> servlet)
    {
        if (!servlet) throw std::invalid_argument("addServlet: the servlet is null");
        servlet->setImplementedMethods(HttpServlet::overriddenMethods<S>());
        addServletImpl(pathSpec, std::move(servlet));
    }
    /// Serves files below `directory` (opened at call time: a directory put in its place
    /// later is not seen) at `pathSpec` (usually "/" or "/static/*"): content types by
    /// extension, index.html for directories, HEAD, ETag / Last-Modified with 304, 404 for
    /// missing files; nothing outside `directory` (docs/security.md, "Static files").
    void addStaticFiles(std::string_view pathSpec, const std::filesystem::path& directory);
    /// An endpoint from a function, without a servlet class (uWebSockets' app.get):
    /// GET and HEAD requests at `pathSpec` call `handler` (HEAD without the body), other
    /// methods get 405. `handler` runs on any server thread, also at once.
    /// Throws std::invalid_argument for a malformed or already mapped spec, or an empty handler.
    void addGet(std::string_view pathSpec, std::function<void(const Request&, Response&)> handler);
    /// Like addGet, for every method: `handler` looks at request.method() itself.
    void addHandler(std::string_view pathSpec, std::function<void(const Request&, Response&)> handler);
    /// Mounts a WebSocket endpoint at `pathSpec`; `configure` sets up its factory
    /// (idle timeout, limits, mappings) once, right here.
    void addWebSocket(std::string_view pathSpec, const std::function<void(WebSocketServletFactory&)>& configure);
    /// Serves the server's metrics (Server::metrics()) at `pathSpec` (usually "/metrics") in
    /// the Prometheus text exposition format 0.0.4, names prefixed `wharf_`
    /// (docs/operations.md, "Metrics"). Anyone who can reach the path can read them:
    /// mount it on a connector or context that only the monitoring can reach.
    void addMetrics(std::string_view pathSpec);
    /// A health check at `pathSpec` (usually "/health") for a load balancer: 200 "ok" while
    /// the server runs, 503 "stopping" once stop() has begun, so new clients go elsewhere
    /// while the open sessions finish.
    void addHealth(std::string_view pathSpec);

protected:
    bool handleInContext(Request& request, Response& response) override;

private:
    void addServletImpl(std::string_view pathSpec, std::shared_ptr<HttpServlet> servlet);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace wharf
