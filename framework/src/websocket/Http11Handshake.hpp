#pragma once
// The WebSocket opening handshake over HTTP/1.1 (RFC 6455 4.2): the request's method,
// version, Upgrade/Connection tokens, key and version, and the 101 with its
// Sec-WebSocket-Accept. Which endpoint answers, and with what, is endpoint negotiation
// (EndpointNegotiation.hpp); an HTTP/2 extended CONNECT (RFC 8441) would replace this
// file and keep that one.

#include "handler/ProtocolSwitch.hpp"

#include <wharf/Http.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace wharf::detail {

/// Why a request is not a valid opening handshake: the status (400, or 426 for a
/// Sec-WebSocket-Version other than 13) and the reason. Status 0: it is one.
struct HandshakeRefusal {
    int status = 0;
    std::string_view reason;
};

/// Whether `request` asks for a WebSocket ("Upgrade: websocket"), valid or not.
bool asksForWebSocket(const Request& request);

/// Whether `token` is among the comma-separated tokens of the values of a header (RFC 9110
/// 5.6.1), compared case-insensitively: "Connection: keep-alive, Upgrade" has "upgrade".
bool hasToken(const Headers& headers, std::string_view name, std::string_view token);

/// Checks the client's opening handshake (RFC 6455 4.2.1): GET, HTTP/1.1 or later,
/// "Upgrade: websocket", "Connection: Upgrade", one valid Sec-WebSocket-Key and
/// Sec-WebSocket-Version 13.
HandshakeRefusal checkOpeningHandshake(const Request& request);

/// Answers a refused handshake: the status with its reason, and the connection closes;
/// a 426 also names the version we speak (RFC 6455 4.4).
void refuseHandshake(Response& response, const HandshakeRefusal& refusal);

/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 4.2.2, 1.3): what the
/// server answers and what a client checks.
std::string acceptKey(std::string_view key);

/// Makes `response` the server's 101 for the checked `request` (Upgrade, Connection,
/// Sec-WebSocket-Accept; headers set before are kept), handing the connection to `next`.
void acceptHandshake(const Request& request, Response& response, std::shared_ptr<ProtocolSwitch> next);

}  // namespace wharf::detail
