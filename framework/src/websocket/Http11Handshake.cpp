// The WebSocket opening handshake over HTTP/1.1, server side (see Http11Handshake.hpp).
#include "websocket/Http11Handshake.hpp"

#include "detail/HttpText.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <openssl/evp.h>

#include <algorithm>

namespace wharf::detail {

bool hasToken(const Headers& headers, std::string_view name, std::string_view token)
{
    bool found = false;
    for (auto value : headers.getAll(name))
        forEachListElement(value, [&](std::string_view t) { found = found || iequals(t, token); });
    return found;
}

namespace {

/// RFC 6455 4.2.1: a base64-encoded 16-byte value is 24 characters ending in "==".
bool isValidKey(std::string_view key)
{
    key = trimOws(key);
    if (key.size() != 24 || key.substr(22) != "==") return false;
    return std::all_of(key.begin(), key.begin() + 22, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    });
}

}  // namespace

bool asksForWebSocket(const Request& request) { return hasToken(request.headers(), "Upgrade", "websocket"); }

HandshakeRefusal checkOpeningHandshake(const Request& request)
{
    const auto& h = request.headers();
    if (request.method() != "GET") return {400, "WebSocket upgrade requires GET"};
    if (request.versionMajor() < 1 || (request.versionMajor() == 1 && request.versionMinor() < 1))
        return {400, "WebSocket upgrade requires HTTP/1.1"};
    if (!hasToken(h, "Upgrade", "websocket")) return {400, "missing \"Upgrade: websocket\""};
    if (!hasToken(h, "Connection", "upgrade")) return {400, "missing \"Connection: Upgrade\""};
    const auto keys = h.getAll("Sec-WebSocket-Key");
    if (keys.size() != 1 || !isValidKey(keys[0]))
        return {400, "Sec-WebSocket-Key must be one base64-encoded 16-byte value"};
    const auto versions = h.getAll("Sec-WebSocket-Version");
    if (versions.size() != 1 || trimOws(versions[0]) != "13")
        return {426, "unsupported Sec-WebSocket-Version; this server speaks 13"};
    return {};
}

void refuseHandshake(Response& response, const HandshakeRefusal& refusal)
{
    response.sendError(refusal.status, refusal.reason);
    if (refusal.status == 426) {
        // RFC 6455 4.4: tell the client which version we speak; it may retry with it.
        response.setHeader("Sec-WebSocket-Version", "13");
        return;
    }
    response.setCloseConnection(true);
}

std::string acceptKey(std::string_view key)
{
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input(trimOws(key));
    input.append(guid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    // Fetched once: OpenSSL 3's implicit fetch behind EVP_sha1() costs more than the hash.
    static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    EVP_Digest(input.data(), input.size(), digest, &length, sha1, nullptr);
    std::string out(boost::beast::detail::base64::encoded_size(length), '\0');
    out.resize(boost::beast::detail::base64::encode(out.data(), digest, length));
    return out;
}

void acceptHandshake(const Request& request, Response& response, std::shared_ptr<ProtocolSwitch> next)
{
    response.setHeader("Upgrade", "websocket");
    response.setHeader("Connection", "Upgrade");
    response.setHeader("Sec-WebSocket-Accept", acceptKey(request.headers().get("Sec-WebSocket-Key").value_or("")));
    response.setBody({});
    ResponseAccess::switchProtocols(response, std::move(next));
}

}  // namespace wharf::detail
