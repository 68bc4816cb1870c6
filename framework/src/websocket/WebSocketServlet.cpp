// The upgrade: RFC 6455 4.2 handshake validation, mapping lookup, creator, 101 response.

#include "detail/WebSocketServlet.hpp"

#include "detail/HttpText.hpp"
#include "detail/PathSpec.hpp"
#include "detail/WsConnection.hpp"

#include <wharf/Log.hpp>

#include <boost/beast/core/detail/base64.hpp>
#include <openssl/evp.h>

#include <algorithm>

namespace wharf {

struct WebSocketServletFactory::Impl {
    struct Mapping {
        WebSocketCreator creator;
        std::shared_ptr<const WebSocketPolicy> policy;
    };
    detail::PathMappings<Mapping> mappings;
};

WebSocketServletFactory::WebSocketServletFactory() : impl_(std::make_unique<Impl>()) {}
WebSocketServletFactory::~WebSocketServletFactory() = default;

void WebSocketServletFactory::setMaxMessageSize(std::size_t bytes)
{
    policy_.maxTextMessageSize = bytes;
    policy_.maxBinaryMessageSize = bytes;
    policy_.maxFrameSize = std::max(policy_.maxFrameSize, bytes);
}

void WebSocketServletFactory::addMapping(std::string_view pathSpec, WebSocketCreator creator)
{
    if (!creator) throw std::invalid_argument(fmt::format("addMapping(\"{}\"): the creator is empty", pathSpec));
    impl_->mappings.add(detail::PathSpec(pathSpec),
                        Impl::Mapping{std::move(creator), std::make_shared<const WebSocketPolicy>(policy_)});
}

namespace {

using detail::trimOws;

/// Whether `token` is among the comma-separated tokens of every value of a header (RFC 9110 5.6.1).
bool hasToken(const Headers& headers, std::string_view name, std::string_view token)
{
    bool found = false;
    for (auto value : headers.getAll(name))
        detail::forEachListElement(value, [&](std::string_view t) { found = found || iequals(t, token); });
    return found;
}

/// RFC 6455 4.2.1: a base64-encoded 16-byte value is 24 characters ending in "==".
bool isValidKey(std::string_view key)
{
    key = trimOws(key);
    if (key.size() != 24 || key.substr(22) != "==") return false;
    return std::all_of(key.begin(), key.begin() + 22, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    });
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

void badRequest(Response& response, std::string_view why)
{
    response.sendError(400, why);
    response.setCloseConnection(true);
}

class WebSocketServlet final : public HttpServlet {
public:
    explicit WebSocketServlet(std::shared_ptr<WebSocketServletFactory> factory) : factory_(std::move(factory)) {}

    void service(Request& request, Response& response) override
    {
        const auto& h = request.headers();
        // RFC 6455 4.2.1 / 4.2.2: anything that is not a valid opening handshake gets 400.
        if (request.method() != "GET") return badRequest(response, "WebSocket upgrade requires GET");
        if (request.versionMajor() < 1 || (request.versionMajor() == 1 && request.versionMinor() < 1))
            return badRequest(response, "WebSocket upgrade requires HTTP/1.1");
        if (!hasToken(h, "Upgrade", "websocket")) return badRequest(response, "missing \"Upgrade: websocket\"");
        if (!hasToken(h, "Connection", "upgrade")) return badRequest(response, "missing \"Connection: Upgrade\"");
        const auto keys = h.getAll("Sec-WebSocket-Key");
        if (keys.size() != 1 || !isValidKey(keys[0]))
            return badRequest(response, "Sec-WebSocket-Key must be one base64-encoded 16-byte value");
        const auto versions = h.getAll("Sec-WebSocket-Version");
        if (versions.size() != 1 || trimOws(versions[0]) != "13") {
            // RFC 6455 4.4: tell the client which version we speak.
            response.sendError(426, "unsupported Sec-WebSocket-Version; this server speaks 13");
            response.setHeader("Sec-WebSocket-Version", "13");
            return;
        }

        auto found = factory_->impl().mappings.find(request.pathInContext());
        if (!found) return response.sendError(404, "no WebSocket endpoint at this path");
        const auto& mapping = *found->value;
        const auto& policy = *mapping.policy;
        if (!found->match.params.empty()) {
            // Template values of the mapping join those of the servlet's own spec.
            auto params = request.pathParameters();
            for (auto& [name, value] : found->match.params) params.insert_or_assign(name, std::move(value));
            request.setServletMatch(request.servletPath(), request.pathInfo(), std::move(params));
        }

        if (!policy.allowedOrigins.empty()) {
            const auto origin = h.get("Origin").value_or("");
            if (std::find(policy.allowedOrigins.begin(), policy.allowedOrigins.end(), origin) ==
                policy.allowedOrigins.end())
                return response.sendError(403, "origin not allowed");
        }

        auto upgradeRequest = std::make_shared<const UpgradeRequest>(request);
        UpgradeResponse upgradeResponse;
        std::shared_ptr<WebSocketListener> listener;
        try {
            listener = mapping.creator(*upgradeRequest, upgradeResponse);
        } catch (const std::exception& e) {
            log::error("WebSocket creator for {} threw: {}", request.path(), e.what());
            return response.sendError(500, "WebSocket creator failed");
        }
        for (const auto& [name, value] : upgradeResponse.headers()) response.addHeader(name, value);
        if (upgradeResponse.isRejected() || !listener) {
            const int status = upgradeResponse.isRejected() ? upgradeResponse.status() : 503;
            return response.sendError(status, upgradeResponse.message());
        }
        const auto& chosen = upgradeResponse.acceptedSubprotocol();
        if (!chosen.empty()) {
            if (!upgradeRequest->hasSubprotocol(chosen)) {
                log::error("WebSocket creator for {} chose subprotocol \"{}\", which the client did not offer",
                           request.path(), chosen);
                return response.sendError(500, "server chose a subprotocol the client did not offer");
            }
            response.setHeader("Sec-WebSocket-Protocol", chosen);
        }

        auto action = std::make_shared<detail::UpgradeAction>();
        action->listener = std::move(listener);
        action->request = std::move(upgradeRequest);
        action->policy = mapping.policy;
        if (auto deflate = detail::negotiateDeflate(h.getAll("Sec-WebSocket-Extensions"), policy.deflate)) {
            action->deflate = deflate->params;
            response.setHeader("Sec-WebSocket-Extensions", deflate->responseHeader);
        }
        response.setStatus(101);
        response.setHeader("Upgrade", "websocket");
        response.setHeader("Connection", "Upgrade");
        response.setHeader("Sec-WebSocket-Accept", acceptKey(keys[0]));
        response.setBody({});
        response.upgrade = std::move(action);
    }

private:
    std::shared_ptr<WebSocketServletFactory> factory_;
};

}  // namespace

void UpgradeResponse::reject(int status, std::string message)
{
    status_ = status == 101 ? 403 : status;
    message_ = std::move(message);
}

namespace detail {

std::shared_ptr<HttpServlet> makeWebSocketServlet(std::shared_ptr<WebSocketServletFactory> factory)
{
    return std::make_shared<WebSocketServlet>(std::move(factory));
}

}  // namespace detail
}  // namespace wharf
