// The WebSocket servlet that ServletContextHandler::addWebSocket mounts: the HTTP/1.1
// handshake (Http11Handshake.hpp), then endpoint negotiation (EndpointNegotiation.hpp),
// then the 101 that hands the connection over. addWebSocket is defined here, in the
// WebSocket layer, so the handler tree below it needs nothing of WebSockets.

#include "detail/PathSpec.hpp"
#include "websocket/EndpointNegotiation.hpp"
#include "websocket/Http11Handshake.hpp"

#include <wharf/ServletContextHandler.hpp>

namespace wharf {

namespace {

class WebSocketServlet final : public HttpServlet {
public:
    explicit WebSocketServlet(std::shared_ptr<const WebSocketServletFactory> factory) : factory_(std::move(factory)) {}

    void service(Request& request, Response& response) override
    {
        // RFC 6455 4.2.1 / 4.2.2: anything that is not a valid opening handshake gets 400.
        if (const auto refusal = detail::checkOpeningHandshake(request); refusal.status != 0)
            return detail::refuseHandshake(response, refusal);
        auto answer = detail::negotiateEndpoint(*factory_, request);
        for (auto& [name, value] : answer.headers) response.addHeader(name, value);
        if (!answer.action) return response.sendError(answer.status, answer.message);
        detail::acceptHandshake(request, response, std::move(answer.action));
    }

private:
    std::shared_ptr<const WebSocketServletFactory> factory_;
};

}  // namespace

void ServletContextHandler::addWebSocket(std::string_view pathSpec,
                                         const std::function<void(WebSocketServletFactory&)>& configure)
{
    detail::PathSpec check(pathSpec);  // fail on a bad spec before running the user's configure
    auto factory = std::make_shared<WebSocketServletFactory>();
    if (configure) configure(*factory);
    addServletImpl(pathSpec, std::make_shared<WebSocketServlet>(std::move(factory)));
}

}  // namespace wharf
