#include <wharf/Upgrade.hpp>

#include "detail/PathSpec.hpp"
#include "handler/RequestBuilder.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using wharf::Headers;
using wharf::Request;
using wharf::detail::RequestBuilder;
using wharf::UpgradeRequest;
using Views = std::vector<std::string_view>;

namespace {

/// The opening handshake of a typical client, as the handler tree hands it to the servlet.
Request typicalRequest()
{
    Request r;
    RequestBuilder(r).setMethod("GET");
    REQUIRE(RequestBuilder(r).setTarget("/echo"));
    RequestBuilder(r).headers().add("Host", "127.0.0.1:8080");
    RequestBuilder(r).headers().add("Upgrade", "websocket");
    RequestBuilder(r).headers().add("Connection", "Upgrade");
    RequestBuilder(r).headers().add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    RequestBuilder(r).headers().add("Sec-WebSocket-Version", "13");
    RequestBuilder(r).setRemoteAddress("127.0.0.1:52114");
    RequestBuilder(r).setContext("", "/echo");
    RequestBuilder(r).setServletMatch("/echo", "", {});
    return r;
}

/// The fields a session does not keep: the handshake's own, answered by wharf.
bool handshakeOnly(std::string_view name)
{
    for (std::string_view h : {"sec-websocket-key", "sec-websocket-version", "upgrade", "connection"})
        if (wharf::iequals(name, h)) return true;
    return false;
}

/// r's header fields without the handshake's own.
std::vector<Headers::Field> keptFields(const Request& r)
{
    std::vector<Headers::Field> out;
    for (const auto& f : r.headers())
        if (!handshakeOnly(f.first)) out.push_back(f);
    return out;
}

/// Every accessor of `u` agrees with `r` (but for the handshake's own header fields).
void checkSame(const UpgradeRequest& u, const Request& r)
{
    CHECK(u.method() == r.method());
    CHECK(u.target() == r.target());
    CHECK(u.path() == r.path());
    CHECK(u.queryString() == r.queryString());
    CHECK(u.contextPath() == r.contextPath());
    CHECK(u.pathInContext() == r.pathInContext());
    CHECK(u.servletPath() == r.servletPath());
    CHECK(u.pathInfo() == r.pathInfo());
    CHECK(u.remoteAddress() == r.remoteAddress());
    CHECK(u.isSecure() == r.isSecure());
    CHECK(u.headers().fields() == keptFields(r));
    for (const auto& [name, value] : r.headers())
        CHECK(u.header(name) == (handshakeOnly(name) ? std::nullopt : r.header(name)));
    for (const auto& [name, value] : r.queryParameters()) CHECK(u.queryParameter(name) == r.queryParameter(name));
    for (const auto& [name, value] : r.cookies()) CHECK(u.cookie(name) == r.cookie(name));
    for (const auto& [name, value] : r.pathParameters()) CHECK(u.pathParameter(name) == value);

    const Request copy = u.httpRequest();
    CHECK(copy.method() == r.method());
    CHECK(copy.target() == r.target());
    CHECK(copy.path() == r.path());
    CHECK(copy.queryString() == r.queryString());
    CHECK(copy.headers().fields() == keptFields(r));
    CHECK(copy.body().empty());
    CHECK(copy.versionMajor() == r.versionMajor());
    CHECK(copy.versionMinor() == r.versionMinor());
    CHECK(copy.remoteAddress() == r.remoteAddress());
    CHECK(copy.isSecure() == r.isSecure());
    CHECK(copy.contextPath() == r.contextPath());
    CHECK(copy.pathInContext() == r.pathInContext());
    CHECK(copy.servletPath() == r.servletPath());
    CHECK(copy.pathInfo() == r.pathInfo());
    CHECK(copy.pathParameters() == r.pathParameters());
}

}  // namespace

TEST_SUITE("websocket") {

TEST_CASE("UpgradeRequest: a typical handshake round-trips and stays compact")
{
    const Request r = typicalRequest();
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.method() == "GET");
    CHECK(u.path() == "/echo");
    CHECK(u.queryString() == "");
    CHECK_FALSE(u.queryParameter("x"));
    CHECK_FALSE(u.header("sec-websocket-key"));  // the handshake's own: not kept
    CHECK(u.header("HOST") == "127.0.0.1:8080");
    CHECK_FALSE(u.header("Origin"));
    CHECK(u.origin() == "");
    CHECK_FALSE(u.cookie("sid"));
    CHECK_FALSE(u.pathParameter("room"));
    CHECK(u.subprotocols().empty());
    CHECK(u.extensions().empty());
    CHECK_FALSE(u.hasSubprotocol("chat"));
    CHECK(u.remoteAddress() == "127.0.0.1:52114");
    CHECK_FALSE(u.isSecure());

    // What a session keeps for its whole life: one pointer, one block (the fields were
    // ~960 bytes as a Request copy). Fails if the compact layout regresses.
    CHECK(sizeof(UpgradeRequest) <= 32);
    CHECK(u.heapBytes() <= 128);  // typical request: ~115 B
    CHECK(u.heapBytes() > 0);
}

TEST_CASE("UpgradeRequest: headers keep order and repeats, lookup ignores case")
{
    Request r = typicalRequest();
    RequestBuilder(r).headers().add("X-Trace", "1");
    RequestBuilder(r).headers().add("x-trace", "2");
    RequestBuilder(r).headers().add("Empty", "");
    RequestBuilder(r).headers().add("X-TRACE", "3");
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.header("X-Trace") == "1");
    CHECK(u.header("x-TRACE") == "1");
    CHECK(u.header("empty") == "");
    CHECK(u.headers().getAll("x-trace") == Views{"1", "2", "3"});
    REQUIRE(u.headers().size() == 5);  // Host and the four added; not the handshake's own
    CHECK(u.headers().fields()[2] == Headers::Field{"x-trace", "2"});  // names as sent
}

TEST_CASE("UpgradeRequest: the handshake's own fields are not kept, everything else is")
{
    Request r = typicalRequest();
    RequestBuilder(r).headers().add("Origin", "https://example.com");
    RequestBuilder(r).headers().add("Sec-WebSocket-Protocol", "chat, superchat");
    RequestBuilder(r).headers().add("Sec-WebSocket-Extensions", "permessage-deflate");
    RequestBuilder(r).headers().add("connection", "keep-alive, Upgrade");  // any case, repeated
    const UpgradeRequest u(r);
    for (std::string_view gone : {"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "Connection"})
        CHECK_FALSE(u.header(gone));
    CHECK(u.header("Host") == "127.0.0.1:8080");
    CHECK(u.origin() == "https://example.com");
    CHECK(u.header("Sec-WebSocket-Protocol") == "chat, superchat");
    CHECK(u.subprotocols() == Views{"chat", "superchat"});
    CHECK(u.extensions() == Views{"permessage-deflate"});
    CHECK(u.headers().size() == 4);
}

TEST_CASE("UpgradeRequest: path, query and cookies decode as Request's")
{
    Request r = typicalRequest();
    REQUIRE(RequestBuilder(r).setTarget("/a%20b/c%2Fd/%e2%82%AC?q=a+b%2Bc&empty=&flag&&x=%E2%82%AC&q=second&bad=%zz&=v"));
    RequestBuilder(r).setContext("/a b", "/c/d/\xe2\x82\xac");
    RequestBuilder(r).setServletMatch("/c", "/d/\xe2\x82\xac", {});
    RequestBuilder(r).headers().add("Cookie", "session=abc123; theme=\"dark mode\";lang=en");
    RequestBuilder(r).headers().add("cookie", "  extra = 1 ; novalue; =anon; empty=; session=second; pct=a%20b");
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.path() == "/a b/c/d/\xe2\x82\xac");
    CHECK(u.queryString() == "q=a+b%2Bc&empty=&flag&&x=%E2%82%AC&q=second&bad=%zz&=v");
    CHECK(u.queryParameter("q") == "a b+c");
    CHECK(u.queryParameter("flag") == "");
    CHECK(u.queryParameter("x") == "\xe2\x82\xac");
    CHECK(u.queryParameter("bad") == "%zz");
    CHECK_FALSE(u.queryParameter("Q"));
    CHECK(u.cookie("session") == "abc123");
    CHECK(u.cookie("theme") == "dark mode");
    CHECK(u.cookie("extra") == "1");
    CHECK(u.cookie("empty") == "");
    CHECK(u.cookie("pct") == "a%20b");
    CHECK_FALSE(u.cookie("novalue"));
    CHECK_FALSE(u.cookie("Session"));

    REQUIRE(RequestBuilder(r).setTarget("/empty?"));
    const UpgradeRequest e(r);
    CHECK(e.path() == "/empty");
    CHECK(e.queryString() == "");
    CHECK_FALSE(e.queryParameter(""));
}

TEST_CASE("UpgradeRequest: path parameters from a template")
{
    Request r = typicalRequest();
    REQUIRE(RequestBuilder(r).setTarget("/app/rooms/lobby%201/users/al?x=1"));
    RequestBuilder(r).setContext("/app", "/rooms/lobby 1/users/al");
    auto match = wharf::detail::PathSpec("/rooms/{room}/users/{user}").match(r.pathInContext());
    REQUIRE(match);
    RequestBuilder(r).setServletMatch(match->servletPath, match->pathInfo, match->params);
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.pathParameter("room") == "lobby 1");
    CHECK(u.pathParameter("user") == "al");
    CHECK_FALSE(u.pathParameter("Room"));
    CHECK_FALSE(u.pathParameter("x"));
    CHECK(u.httpRequest().pathParameters().size() == 2);

    // Values that are not in the path (set by hand) are kept as well.
    RequestBuilder(r).setServletMatch("/elsewhere", "/not/in/the/path", {{"a", "zzz"}, {"b", ""}});
    const UpgradeRequest v(r);
    checkSame(v, r);
    CHECK(v.pathParameter("a") == "zzz");
    CHECK(v.pathParameter("b") == "");
}

TEST_CASE("UpgradeRequest: subprotocols and extension names as offered")
{
    Request r = typicalRequest();
    RequestBuilder(r).headers().add("Sec-WebSocket-Protocol", "chat.v1, chat.v2");
    RequestBuilder(r).headers().add("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
    RequestBuilder(r).headers().add("sec-websocket-protocol", " ,chat.v3 ,,\t");
    RequestBuilder(r).headers().add("Sec-WebSocket-Extensions", "x-webkit-deflate-frame, ; p=1, foo ;bar=\"a,b\"");
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.subprotocols() == Views{"chat.v1", "chat.v2", "chat.v3"});
    // The list is split at every comma, as before (a quoted comma is not special).
    CHECK(u.extensions() == Views{"permessage-deflate", "x-webkit-deflate-frame", "foo", "b\""});
    CHECK(u.hasSubprotocol("chat.v2"));
    CHECK(u.hasSubprotocol("chat.v3"));
    CHECK_FALSE(u.hasSubprotocol("CHAT.V2"));  // case-sensitive (RFC 6455 4.1)
    CHECK_FALSE(u.hasSubprotocol("chat"));
}

TEST_CASE("UpgradeRequest: secure flag, remote address, version and origin")
{
    Request r = typicalRequest();
    RequestBuilder(r).setSecure(true);
    RequestBuilder(r).setRemoteAddress("[2001:db8::1]:443");
    RequestBuilder(r).setVersion(10);
    RequestBuilder(r).headers().add("Origin", "https://example.test");
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.isSecure());
    CHECK(u.remoteAddress() == "[2001:db8::1]:443");
    CHECK(u.origin() == "https://example.test");
    CHECK(u.httpRequest().versionMinor() == 0);
}

TEST_CASE("UpgradeRequest: long values and many headers")
{
    Request r = typicalRequest();
    const std::string longPath = "/" + std::string(300, 'p');
    REQUIRE(RequestBuilder(r).setTarget(longPath + "?q=" + std::string(400, 'q')));
    RequestBuilder(r).setContext("", longPath);
    RequestBuilder(r).setServletMatch(longPath, "", {{"whole", longPath.substr(1)}});
    for (int i = 0; i < 500; ++i) RequestBuilder(r).headers().add("X-Header-" + std::to_string(i), std::string(i, 'v'));
    RequestBuilder(r).headers().add("Cookie", "big=" + std::string(1000, 'c'));
    const UpgradeRequest u(r);
    checkSame(u, r);
    CHECK(u.header("x-header-499") == std::string(499, 'v'));
    CHECK(u.queryParameter("q") == std::string(400, 'q'));
    CHECK(u.cookie("big") == std::string(1000, 'c'));
    CHECK(u.pathParameter("whole") == longPath.substr(1));
    CHECK(u.heapBytes() > 500 * 250);  // the values are all there (over 64 KiB: wide offsets)

    SUBCASE("a single value over 64 KiB") {
        Request big = typicalRequest();
        RequestBuilder(big).headers().add("X-Big", std::string(70000, 'b'));
        RequestBuilder(big).headers().add("Sec-WebSocket-Protocol", "after.big");
        const UpgradeRequest b(big);
        checkSame(b, big);
        CHECK(b.header("X-Big")->size() == 70000);
        CHECK(b.subprotocols() == Views{"after.big"});
    }
}

TEST_CASE("UpgradeRequest: independent of its source, copies and moves")
{
    std::optional<UpgradeRequest> u;
    {
        auto r = std::make_unique<Request>(typicalRequest());
        RequestBuilder(*r).headers().add("Sec-WebSocket-Protocol", "chat.v1");
        u.emplace(*r);
        RequestBuilder(*r).headers().set("Host", "changed");
        r.reset();  // the source goes first
    }
    CHECK(u->header("Host") == "127.0.0.1:8080");
    CHECK(u->subprotocols() == Views{"chat.v1"});

    UpgradeRequest copy(*u);
    CHECK(copy.heapBytes() == u->heapBytes());
    u.reset();
    CHECK(copy.path() == "/echo");
    CHECK(copy.header("host") == "127.0.0.1:8080");
    CHECK(copy.hasSubprotocol("chat.v1"));

    UpgradeRequest moved(std::move(copy));
    CHECK(moved.remoteAddress() == "127.0.0.1:52114");
    CHECK(copy.heapBytes() == 0);  // NOLINT(bugprone-use-after-move): moved-from is valid and empty
    CHECK(copy.path() == "");
    CHECK(copy.headers().size() == 0);
    CHECK_FALSE(copy.header("Host"));
    CHECK(copy.subprotocols().empty());
    CHECK_FALSE(copy.isSecure());

    copy = moved;  // a moved-from request can be assigned again
    CHECK(copy.path() == "/echo");
    CHECK(moved.path() == "/echo");
}

TEST_CASE("UpgradeRequest: shared as the servlet makes it")
{
    Request r = typicalRequest();
    auto shared = std::make_shared<const UpgradeRequest>(r);
    r = Request();
    CHECK(shared->path() == "/echo");
    CHECK(shared->heapBytes() <= 256);
}

}  // TEST_SUITE
