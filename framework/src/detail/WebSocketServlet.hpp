#pragma once
// The bridge from the handler tree to the WebSocket layer.

#include <wharf/ServletContextHandler.hpp>
#include <wharf/WebSocketServletFactory.hpp>

#include <memory>

namespace wharf::detail {

/// The servlet mounted by ServletContextHandler::addWebSocket: validates the upgrade
/// (RFC 6455 4.2.1), picks the factory mapping for Request::pathInContext(), runs the
/// creator and fills the response with 101 + Response::upgrade, or an error status.
std::shared_ptr<HttpServlet> makeWebSocketServlet(std::shared_ptr<WebSocketServletFactory> factory);

}  // namespace wharf::detail
