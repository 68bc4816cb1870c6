// Endpoint negotiation (see EndpointNegotiation.hpp) and the factory's mapping table.
#include "websocket/EndpointNegotiation.hpp"

#include "detail/PathSpec.hpp"
#include "handler/RequestBuilder.hpp"
#include "websocket/OriginPattern.hpp"

#include <wharf/Log.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

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

void WebSocketServletFactory::setAllowedOrigins(std::vector<std::string> patterns)
{
    for (const auto& p : patterns)
        if (!detail::OriginPattern::parse(p, true))
            throw std::invalid_argument(fmt::format(
                "setAllowedOrigins: \"{}\" is not an origin pattern (scheme://host[:port], port may be *, host may "
                "start with *.; or \"null\")",
                p));
    policy_.allowedOrigins = std::move(patterns);
}

void WebSocketServletFactory::addMapping(std::string_view pathSpec, WebSocketCreator creator)
{
    if (!creator) throw std::invalid_argument(fmt::format("addMapping(\"{}\"): the creator is empty", pathSpec));
    impl_->mappings.add(detail::PathSpec(pathSpec),
                        Impl::Mapping{std::move(creator), std::make_shared<const WebSocketPolicy>(policy_)});
}

namespace detail {

struct FactoryAccess {
    static const auto& mappings(const WebSocketServletFactory& factory) noexcept { return factory.impl_->mappings; }
};

EndpointAnswer negotiateEndpoint(const WebSocketServletFactory& factory, Request& request)
{
    EndpointAnswer answer;
    auto refuse = [&](int status, std::string message) {
        answer.action.reset();
        answer.status = status;
        answer.message = std::move(message);
        return std::move(answer);
    };
    auto found = FactoryAccess::mappings(factory).find(request.pathInContext());
    if (!found) return refuse(404, "no WebSocket endpoint at this path");
    const auto& mapping = *found->value;
    const auto& policy = *mapping.policy;
    if (!found->match.params.empty()) {
        // Template values of the mapping join those of the servlet's own spec.
        auto params = request.pathParameters();
        for (auto& [name, value] : found->match.params) params.insert_or_assign(name, std::move(value));
        RequestBuilder(request).setServletMatch(request.servletPath(), request.pathInfo(), std::move(params));
    }

    const auto& h = request.headers();
    if (const auto origin = h.get("Origin"); !originAllowed(policy.allowedOrigins, policy.allowMissingOrigin, origin)) {
        // Said in the log: a refused origin is usually a configuration to fix, not an attack.
        log::info("WebSocket upgrade to {} from {} refused: {}", request.path(), request.remoteAddress(),
                  origin ? fmt::format("origin \"{}\" is not allowed", *origin) : std::string("no Origin header"));
        return refuse(403, origin ? "origin not allowed" : "Origin header required");
    }

    auto upgradeRequest = std::make_shared<const UpgradeRequest>(request);
    UpgradeResponse upgradeResponse;
    std::shared_ptr<WebSocketListener> listener;
    try {
        listener = mapping.creator(*upgradeRequest, upgradeResponse);
    } catch (const std::exception& e) {
        log::error("WebSocket creator for {} threw: {}", request.path(), e.what());
        return refuse(500, "WebSocket creator failed");
    }
    answer.headers = upgradeResponse.headers();
    if (upgradeResponse.isRejected() || !listener)
        return refuse(upgradeResponse.isRejected() ? upgradeResponse.status() : 503, upgradeResponse.message());
    const auto& chosen = upgradeResponse.acceptedSubprotocol();
    if (!chosen.empty()) {
        if (!upgradeRequest->hasSubprotocol(chosen)) {
            log::error("WebSocket creator for {} chose subprotocol \"{}\", which the client did not offer",
                       request.path(), chosen);
            return refuse(500, "server chose a subprotocol the client did not offer");
        }
        answer.headers.set("Sec-WebSocket-Protocol", chosen);
    }

    answer.action = std::make_shared<UpgradeAction>();
    answer.action->listener = std::move(listener);
    answer.action->request = std::move(upgradeRequest);
    answer.action->policy = mapping.policy;
    if (auto deflate = negotiateDeflate(h.getAll("Sec-WebSocket-Extensions"), policy.deflate)) {
        answer.action->deflate = deflate->params;
        answer.headers.set("Sec-WebSocket-Extensions", std::move(deflate->responseHeader));
    }
    return answer;
}

}  // namespace detail
}  // namespace wharf
