// The client's opening handshake without I/O (see ClientHandshake.hpp).
#include "client/ClientHandshake.hpp"

#include "detail/HttpText.hpp"
#include "websocket/Http11Handshake.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace wharf::detail {

namespace {

bool startsWithNoCase(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool validHostChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '%';
}

/// The handshake's own fields: wharf writes them, a user's value would break or forge it.
constexpr std::string_view reservedFields[] = {"Host",
                                               "Upgrade",
                                               "Connection",
                                               "Sec-WebSocket-Key",
                                               "Sec-WebSocket-Version",
                                               "Sec-WebSocket-Protocol",
                                               "Sec-WebSocket-Extensions"};

}  // namespace

std::optional<WsUri> parseWsUri(std::string_view uri)
{
    WsUri out;
    if (startsWithNoCase(uri, "ws://")) {
        uri.remove_prefix(5);
    } else if (startsWithNoCase(uri, "wss://")) {
        out.secure = true;
        uri.remove_prefix(6);
    } else {
        return std::nullopt;
    }
    if (uri.find('#') != std::string_view::npos) return std::nullopt;
    const auto pathStart = uri.find_first_of("/?");
    auto authority = uri.substr(0, pathStart);
    out.target = pathStart == std::string_view::npos ? "/" : std::string(uri.substr(pathStart));
    if (out.target.front() == '?') out.target.insert(0, "/");
    if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no userinfo
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = std::string(authority.substr(1, close - 1));
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
        }
        if (out.host.empty() || out.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
            return std::nullopt;
    } else {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
        if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), validHostChar)) return std::nullopt;
    }
    out.port = out.secure ? 443 : 80;
    if (!port.empty()) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
        out.port = static_cast<std::uint16_t>(value);
    } else if (authority.ends_with(":")) {
        return std::nullopt;
    }
    return out;
}

std::string hostHeader(const WsUri& uri)
{
    const bool ipv6 = uri.host.find(':') != std::string::npos;
    std::string host = ipv6 ? fmt::format("[{}]", uri.host) : uri.host;
    if (uri.port != (uri.secure ? 443 : 80)) host += fmt::format(":{}", uri.port);
    return host;
}

ClientOffer makeOffer(const ClientUpgradeRequest& request, const WebSocketPolicy& policy)
{
    ClientOffer offer;
    unsigned char nonce[16];
    // RFC 6455 4.1: the key is a random nonce, chosen afresh for each connection.
    if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("RAND_bytes failed: no Sec-WebSocket-Key");
    offer.key.resize(boost::beast::detail::base64::encoded_size(sizeof nonce));
    offer.key.resize(boost::beast::detail::base64::encode(offer.key.data(), nonce, sizeof nonce));
    offer.subprotocols = request.subprotocols;
    if (policy.deflate.enabled) {
        DeflateOffer d;
        d.clientNoContextTakeover = policy.deflate.clientNoContextTakeover;
        d.serverNoContextTakeover = policy.deflate.serverNoContextTakeover;
        d.clientMaxWindowBits = std::clamp(policy.deflate.windowBits, 9, 15);
        d.memLevel = policy.deflate.memLevel;
        offer.deflate = d;
    }
    return offer;
}

Headers upgradeHeaders(const WsUri& uri, const ClientUpgradeRequest& request, const ClientOffer& offer)
{
    for (const auto& [name, value] : request.headers)
        for (auto reserved : reservedFields)
            if (iequals(name, reserved))
                throw std::invalid_argument(fmt::format(
                    "ClientUpgradeRequest::headers may not set {}: the handshake writes it", name));
    Headers h;
    h.add("Host", hostHeader(uri));
    h.add("Upgrade", "websocket");
    h.add("Connection", "Upgrade");
    h.add("Sec-WebSocket-Key", offer.key);
    h.add("Sec-WebSocket-Version", "13");
    if (!offer.subprotocols.empty()) {
        std::string list;
        for (const auto& p : offer.subprotocols) list += (list.empty() ? "" : ", ") + p;
        h.add("Sec-WebSocket-Protocol", std::move(list));
    }
    if (offer.deflate) h.add("Sec-WebSocket-Extensions", buildDeflateOffer(*offer.deflate));
    if (!request.origin.empty()) h.add("Origin", request.origin);
    if (!request.cookies.empty()) {
        std::string cookie;
        for (const auto& [name, value] : request.cookies) cookie += fmt::format("{}{}={}", cookie.empty() ? "" : "; ", name, value);
        h.add("Cookie", std::move(cookie));
    }
    for (const auto& [name, value] : request.headers) h.add(name, value);
    return h;
}

std::string serializeRequest(const std::string& target, const Headers& headers)
{
    std::string out = fmt::format("GET {} HTTP/1.1\r\n", target);
    for (const auto& [name, value] : headers) out += fmt::format("{}: {}\r\n", name, value);
    out += "\r\n";
    return out;
}

UpgradeCheck checkUpgradeResponse(int status, const Headers& headers, const ClientOffer& offer)
{
    UpgradeCheck out;
    const auto fail = [&](Errc error, std::string reason) {
        out.error = error;
        out.reason = std::move(reason);
        out.deflate.reset();
        return out;
    };
    if (status != 101) return fail(Errc::UpgradeRejected, fmt::format("the server answered {} instead of 101", status));
    if (!hasToken(headers, "Upgrade", "websocket"))
        return fail(Errc::MissingUpgradeHeaders, "the 101 response has no \"Upgrade: websocket\"");
    if (!hasToken(headers, "Connection", "upgrade"))
        return fail(Errc::MissingUpgradeHeaders, "the 101 response has no \"Connection: upgrade\"");
    const auto accepts = headers.getAll("Sec-WebSocket-Accept");
    if (accepts.size() != 1 || trimOws(accepts[0]) != acceptKey(offer.key))
        return fail(Errc::BadAcceptKey, "the 101 response's Sec-WebSocket-Accept does not match the key sent");

    // RFC 6455 4.1: a subprotocol must be one we offered (one value, no list).
    const auto protocols = headers.getAll("Sec-WebSocket-Protocol");
    if (protocols.size() > 1) return fail(Errc::UnexpectedSubprotocol, "the server answered with several subprotocols");
    if (protocols.size() == 1) {
        const auto chosen = trimOws(protocols[0]);
        if (std::find(offer.subprotocols.begin(), offer.subprotocols.end(), chosen) == offer.subprotocols.end())
            return fail(Errc::UnexpectedSubprotocol,
                        fmt::format("the server chose subprotocol \"{}\", which was not offered", chosen));
        out.subprotocol = std::string(chosen);
    }

    // RFC 6455 9.1: only extensions we offered, with parameters RFC 7692 allows.
    const auto extensions = headers.getAll("Sec-WebSocket-Extensions");
    bool any = false;
    for (auto e : extensions) forEachListElement(e, [&](std::string_view) { any = true; });
    if (any && !offer.deflate)
        return fail(Errc::UnexpectedExtension,
                    fmt::format("the server answered with extension \"{}\", none was offered", extensions[0]));
    if (offer.deflate) {
        auto answer = checkDeflateAnswer(extensions, *offer.deflate);
        if (!answer.error.empty()) return fail(Errc::UnexpectedExtension, std::move(answer.error));
        out.deflate = std::move(answer.params);
    }
    return out;
}

}  // namespace wharf::detail
