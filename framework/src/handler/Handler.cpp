// HandlerList, ContextHandler and ContextHandlerCollection (see wharf/Handler.hpp).
#include <wharf/Handler.hpp>

#include "handler/RequestBuilder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace wharf {

bool HandlerList::handle(Request& request, Response& response)
{
    for (const auto& handler : handlers_)
        if (handler && handler->handle(request, response)) return true;
    return false;
}

ContextHandler::ContextHandler(std::string contextPath, std::shared_ptr<Handler> handler)
    : contextPath_(std::move(contextPath)), handler_(std::move(handler))
{
    if (!contextPath_.empty() && !contextPath_.starts_with('/'))
        throw std::invalid_argument(fmt::format("context path '{}' must start with '/'", contextPath_));
    if (contextPath_.find_first_of("*?#{}") != std::string::npos || contextPath_.find("//") != std::string::npos)
        throw std::invalid_argument(
            fmt::format("context path '{}' must be a plain path such as \"/app\" (no '*', '?', '#', braces or \"//\")",
                        contextPath_));
    if (contextPath_.ends_with('/')) contextPath_.pop_back();  // "/" -> "" (root), "/app/" -> "/app"
}

bool ContextHandler::matches(std::string_view path) const noexcept
{
    return contextPath_.empty() ||
           (path.starts_with(contextPath_) && (path.size() == contextPath_.size() || path[contextPath_.size()] == '/'));
}

bool ContextHandler::handle(Request& request, Response& response)
{
    const std::string& path = request.path();
    if (!matches(path)) return false;
    if (path.size() == contextPath_.size() && !contextPath_.empty()) {
        // Jetty: "/app" -> 302 "/app/", so relative links in the context's pages resolve.
        // The raw (still encoded) path of the target is reused, so nothing needs re-encoding.
        const std::string& target = request.target();
        std::string location = target.substr(0, target.find('?')) + '/';
        if (!request.queryString().empty()) location += '?' + request.queryString();
        response.setStatus(302);
        response.setHeader("Location", std::move(location));
        response.setBody({});
        return true;
    }
    // Restore the outer context if we pass, so the next handler sees the request unchanged.
    std::string outerContext = request.contextPath(), outerPath = request.pathInContext();
    detail::RequestBuilder(request).setContext(contextPath_, path.substr(contextPath_.size()));
    if (handleInContext(request, response)) return true;
    detail::RequestBuilder(request).setContext(std::move(outerContext), std::move(outerPath));
    return false;
}

bool ContextHandler::handleInContext(Request& request, Response& response)
{
    return handler_ && handler_->handle(request, response);
}

void ContextHandlerCollection::addHandler(std::shared_ptr<ContextHandler> context)
{
    if (!context) throw std::invalid_argument("ContextHandlerCollection::addHandler: null context");
    auto longer = [](const std::shared_ptr<ContextHandler>& a, const std::shared_ptr<ContextHandler>& b) {
        return a->contextPath().size() > b->contextPath().size();
    };
    contexts_.insert(std::upper_bound(contexts_.begin(), contexts_.end(), context, longer), std::move(context));
}

bool ContextHandlerCollection::handle(Request& request, Response& response)
{
    // Longest match first; a context that passes lets a shorter one (e.g. the root) try.
    for (const auto& context : contexts_)
        if (context->matches(request.path()) && context->handle(request, response)) return true;
    return false;
}

}  // namespace wharf
