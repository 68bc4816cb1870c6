#pragma once
// The client's side of the HTTP/1.1 opening handshake (RFC 6455 4.1), without I/O: the URI,
// the upgrade request we send, and the checks of the server's answer. The server's side is
// websocket/Http11Handshake.

#include "detail/Deflate.hpp"
#include "protocol/DeflateOffer.hpp"

#include <wharf/Error.hpp>
#include <wharf/Http.hpp>
#include <wharf/WebSocketClient.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::detail {

/// A parsed ws:// or wss:// URI.
struct WsUri {
    bool secure = false;
    std::string host;  ///< without brackets for an IPv6 address
    std::uint16_t port = 0;
    std::string target;  ///< path and query, "/" at least
};

/// nullopt unless `uri` is ws://host[:port][/path][?query] or wss://...; a fragment is
/// not allowed (RFC 6455 3).
std::optional<WsUri> parseWsUri(std::string_view uri);

/// The Host header's value: the host (bracketed when IPv6), with the port unless it is the
/// scheme's default.
std::string hostHeader(const WsUri& uri);

/// What we offered, for checking the answer.
struct ClientOffer {
    std::string key;  ///< Sec-WebSocket-Key: 16 random bytes, base64
    std::vector<std::string> subprotocols;
    std::optional<DeflateOffer> deflate;
};

/// A fresh offer for `request` under `policy` (the deflate offer when policy.deflate.enabled).
ClientOffer makeOffer(const ClientUpgradeRequest& request, const WebSocketPolicy& policy);

/// The header fields of the upgrade request, in the order sent. Throws
/// std::invalid_argument when request.headers sets one of the handshake's own fields.
Headers upgradeHeaders(const WsUri& uri, const ClientUpgradeRequest& request, const ClientOffer& offer);

/// "GET <target> HTTP/1.1\r\n" + the fields + "\r\n".
std::string serializeRequest(const std::string& target, const Headers& headers);

/// The server's answer, checked against the offer.
struct UpgradeCheck {
    Errc error{};         ///< Errc{} when the handshake succeeded
    std::string reason;   ///< what was wrong, for ConnectFailure::message
    std::string subprotocol;               ///< the accepted one, "" for none
    std::optional<DeflateParams> deflate;  ///< permessage-deflate was accepted
};

/// RFC 6455 4.1's checks of the response: 101, the Upgrade and Connection tokens, the
/// Sec-WebSocket-Accept for our key, a subprotocol and extensions only from the offer.
UpgradeCheck checkUpgradeResponse(int status, const Headers& headers, const ClientOffer& offer);

}  // namespace wharf::detail
