#pragma once
// Endpoint negotiation (RFC 6455 4.2.2 beyond the HTTP exchange): which mapping of a
// WebSocketServletFactory takes the request, whether its origin may connect, what its
// creator answers, the subprotocol and permessage-deflate (RFC 7692). Independent of how
// the handshake travels (Http11Handshake.hpp for HTTP/1.1).

#include "websocket/UpgradeAction.hpp"

#include <wharf/Http.hpp>
#include <wharf/WebSocketServletFactory.hpp>

#include <memory>
#include <string>

namespace wharf::detail {

/// What the endpoint answers: accepted (action set) or refused (status and message).
struct EndpointAnswer {
    std::shared_ptr<UpgradeAction> action;  ///< null when refused
    int status = 0;                         ///< when refused: 403, 404, 500, 503 or the creator's
    std::string message;                    ///< when refused: the body ("" for the reason phrase)
    /// For the answer either way: the creator's headers, then (accepted) Sec-WebSocket-Protocol
    /// and Sec-WebSocket-Extensions.
    Headers headers;
};

/// Negotiates `request` (a valid opening handshake) with the endpoint `factory` maps its
/// pathInContext() to: no mapping is 404 (a mapping's template values join the request's
/// path parameters); an origin not allowed is 403; the creator runs (500 when it throws,
/// its status when it rejects, 503 when it returns nullptr without); a subprotocol the
/// client did not offer is 500; permessage-deflate is answered as the mapping's policy says.
EndpointAnswer negotiateEndpoint(const WebSocketServletFactory& factory, Request& request);

}  // namespace wharf::detail
