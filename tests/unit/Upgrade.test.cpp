// The WebSocket upgrade without sockets: the HTTP/1.1 handshake (Http11Handshake),
// endpoint negotiation (EndpointNegotiation), the 101's hand-off (ProtocolSwitch) and
// what addMapping<L> does with its arguments.

#include "handler/ProtocolSwitch.hpp"
#include "handler/RequestBuilder.hpp"
#include "websocket/EndpointNegotiation.hpp"
#include "websocket/Http11Handshake.hpp"

#include <wharf/WebSocketServletFactory.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>

using namespace wharf;
using detail::RequestBuilder;

namespace {

/// RFC 6455 1.3's example handshake for `path`.
Request handshake(std::string path)
{
    Request r;
    RequestBuilder b(r);
    b.setMethod("GET");
    REQUIRE(b.setTarget(path));
    b.headers().add("Host", "example.com");
    b.headers().add("Upgrade", "websocket");
    b.headers().add("Connection", "Upgrade");
    b.headers().add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    b.headers().add("Sec-WebSocket-Version", "13");
    b.setContext("", path);
    return r;
}

/// Copyable on purpose: a copy made by addMapping would go unnoticed but for its contents.
struct Registry {
    std::string name = "before";
};

class RegistryReader : public WebSocketAdapter {
public:
    RegistryReader(const Registry& registry, const std::string& suffix) : registry_(registry), suffix_(suffix) {}
    std::string read() const { return registry_.name + suffix_; }

private:
    const Registry& registry_;
    std::string suffix_;
};

class RegistryWriter : public WebSocketAdapter {
public:
    explicit RegistryWriter(Registry& registry) { registry.name = "written"; }
};

/// The listener the mapping of `path` creates for a handshake there.
std::shared_ptr<WebSocketListener> create(const WebSocketServletFactory& factory, const std::string& path)
{
    auto request = handshake(path);
    auto answer = detail::negotiateEndpoint(factory, request);
    REQUIRE(answer.action);
    return answer.action->listener;
}

}  // namespace

TEST_CASE("the HTTP/1.1 handshake is checked apart from the endpoint")
{
    CHECK(detail::checkOpeningHandshake(handshake("/x")).status == 0);
    auto post = handshake("/x");
    RequestBuilder(post).setMethod("POST");
    CHECK(detail::checkOpeningHandshake(post).status == 400);
    auto old = handshake("/x");
    RequestBuilder(old).headers().set("Sec-WebSocket-Version", "8");
    const auto refusal = detail::checkOpeningHandshake(old);
    CHECK(refusal.status == 426);
    Response response;
    detail::refuseHandshake(response, refusal);
    CHECK(response.status() == 426);
    CHECK(response.headers().get("Sec-WebSocket-Version") == "13");  // RFC 6455 4.4
    CHECK(detail::acceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 1.3
}

TEST_CASE("endpoint negotiation: mapping, origin, creator, subprotocol, deflate")
{
    WebSocketServletFactory factory;
    factory.setPermessageDeflate(true);
    factory.addMapping("/chat", [](const UpgradeRequest&, UpgradeResponse& response) {
        response.setAcceptedSubprotocol("chat.v1");
        response.addHeader("X-Endpoint", "chat");
        return std::make_shared<WebSocketAdapter>();
    });
    factory.setAllowedOrigins({"https://example.com"});
    factory.addMapping("/private", [](const UpgradeRequest&, UpgradeResponse&) {
        return std::make_shared<WebSocketAdapter>();
    });

    auto chat = handshake("/chat");
    RequestBuilder(chat).headers().add("Sec-WebSocket-Protocol", "chat.v1");
    RequestBuilder(chat).headers().add("Sec-WebSocket-Extensions", "permessage-deflate");
    auto accepted = detail::negotiateEndpoint(factory, chat);
    REQUIRE(accepted.action);
    CHECK(accepted.action->listener);
    CHECK(accepted.action->deflate);
    CHECK(accepted.headers.get("X-Endpoint") == "chat");
    CHECK(accepted.headers.get("Sec-WebSocket-Protocol") == "chat.v1");
    CHECK(accepted.headers.get("Sec-WebSocket-Extensions") == "permessage-deflate");

    auto unoffered = handshake("/chat");  // the creator picks a subprotocol nobody offered
    CHECK(detail::negotiateEndpoint(factory, unoffered).status == 500);
    auto nowhere = handshake("/nowhere");
    CHECK(detail::negotiateEndpoint(factory, nowhere).status == 404);
    auto stranger = handshake("/private");
    RequestBuilder(stranger).headers().add("Origin", "https://evil.example");
    const auto refused = detail::negotiateEndpoint(factory, stranger);
    CHECK(refused.status == 403);
    CHECK_FALSE(refused.action);
}

TEST_CASE("a 101 hands the connection over only while it is still a 101")
{
    struct Next : detail::ProtocolSwitch {};
    auto request = handshake("/x");
    Response response;
    detail::acceptHandshake(request, response, std::make_shared<Next>());
    CHECK(response.status() == 101);
    CHECK(response.headers().get("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(detail::ResponseAccess::takeSwitch(response));
    CHECK_FALSE(detail::ResponseAccess::takeSwitch(response));  // taken once

    Response replaced;  // a handler around the servlet answered something else after all
    detail::acceptHandshake(request, replaced, std::make_shared<Next>());
    replaced.sendError(503);
    CHECK_FALSE(detail::ResponseAccess::takeSwitch(replaced));
}

TEST_CASE("addMapping<L> shares what std::ref / std::cref name and copies the rest")
{
    Registry registry;
    WebSocketServletFactory factory;
    std::string suffix = "!";
    factory.addMapping<RegistryReader>("/cref", std::cref(registry), std::move(suffix));
    factory.addMapping<RegistryReader>("/ref", std::ref(registry), std::string("?"));
    factory.addMapping<RegistryWriter>("/writer", std::ref(registry));
    registry.name = "after";  // a copy taken by addMapping would still say "before"

    CHECK(std::dynamic_pointer_cast<RegistryReader>(create(factory, "/cref"))->read() == "after!");
    CHECK(std::dynamic_pointer_cast<RegistryReader>(create(factory, "/ref"))->read() == "after?");
    create(factory, "/writer");
    CHECK(registry.name == "written");
}

TEST_CASE("addMapping<L> refuses a named object that is neither std::ref'd nor moved")
{
    // What its static_assert tests ("pass std::ref(object) ..."): a named object of class
    // type may be meant to be shared or copied, so it must say which.
    CHECK_FALSE(detail::storableMappingArgument<Registry&>);
    CHECK_FALSE(detail::storableMappingArgument<const Registry&>);
    CHECK_FALSE(detail::storableMappingArgument<std::string&>);
    CHECK(detail::storableMappingArgument<Registry>);  // a temporary or std::move
    CHECK(detail::storableMappingArgument<std::reference_wrapper<Registry>>);
    CHECK(detail::storableMappingArgument<std::reference_wrapper<const Registry>&>);  // a named std::cref
    CHECK(detail::storableMappingArgument<int&>);
    CHECK(detail::storableMappingArgument<const char (&)[6]>);  // a string literal
}
