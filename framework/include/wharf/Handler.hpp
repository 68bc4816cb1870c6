#pragma once
// The handler tree (Jetty's Handler, HandlerList, ContextHandler, ContextHandlerCollection).
//
//   Server
//     └─ Handler                      handle(request, response) -> true when it answered
//          ├─ HandlerList              asks each child in order until one answers
//          ├─ ContextHandlerCollection picks the ContextHandler with the longest matching path
//          └─ ContextHandler("/app")   strips "/app", hands "/rest" to its child handler
//               └─ ServletContextHandler  servlets by path spec (ServletContextHandler.hpp)
//
// A request nobody answers gets 404 from the server.

#include <wharf/Http.hpp>

#include <memory>
#include <string>
#include <vector>

namespace wharf {

/// Something that may answer a request.
/// Thread-safety: handle() is called from any server thread at once; a handler must
/// not change its configuration after Server::start().
class Handler {
public:
    virtual ~Handler() = default;
    /// Answers into `response` and returns true, or returns false to let others try.
    virtual bool handle(Request& request, Response& response) = 0;
};

/// Tries its handlers in order; the first that returns true ends the search.
class HandlerList : public Handler {
public:
    HandlerList() = default;
    explicit HandlerList(std::vector<std::shared_ptr<Handler>> handlers) : handlers_(std::move(handlers)) {}
    void addHandler(std::shared_ptr<Handler> handler) { handlers_.push_back(std::move(handler)); }
    const std::vector<std::shared_ptr<Handler>>& handlers() const noexcept { return handlers_; }
    bool handle(Request& request, Response& response) override;

private:
    std::vector<std::shared_ptr<Handler>> handlers_;
};

/// Handles requests whose path is its context path or below it ("/app" takes "/app" and
/// "/app/x", not "/apple"); sets Request::contextPath()/pathInContext() for its child.
/// A request for exactly "/app" is redirected (302) to "/app/" as Jetty does.
class ContextHandler : public Handler {
public:
    /// `contextPath` is "/" (or "") for the root, otherwise "/name" without a trailing '/'.
    /// Throws std::invalid_argument for a path that does not start with '/'.
    explicit ContextHandler(std::string contextPath, std::shared_ptr<Handler> handler = nullptr);
    const std::string& contextPath() const noexcept { return contextPath_; }
    void setHandler(std::shared_ptr<Handler> handler) { handler_ = std::move(handler); }
    /// True when `path` is inside this context.
    bool matches(std::string_view path) const noexcept;
    bool handle(Request& request, Response& response) override;

protected:
    /// Called with the request's context fields set; default: the child handler.
    virtual bool handleInContext(Request& request, Response& response);

private:
    std::string contextPath_;  // "" for the root
    std::shared_ptr<Handler> handler_;
};

/// Routes to the ContextHandler whose context path is the longest match.
class ContextHandlerCollection : public Handler {
public:
    void addHandler(std::shared_ptr<ContextHandler> context);
    bool handle(Request& request, Response& response) override;

private:
    std::vector<std::shared_ptr<ContextHandler>> contexts_;  // longest path first
};

}  // namespace wharf
