#include <wharf/ServletContextHandler.hpp>

#include "handler/RequestBuilder.hpp"

#include <wharf/WebSocketServletFactory.hpp>

#include <doctest/doctest.h>

#include <chrono>

#include <memory>
#include <stdexcept>
#include <string>

using namespace wharf;
using wharf::detail::RequestBuilder;

namespace {

class GetOnly : public HttpServlet {
public:
    void doGet(Request&, Response& response) override
    {
        response.setContentType("text/plain");
        response.setBody("hello");
    }
};

class Api : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        response.setBody("get " + request.servletPath() + "|" + request.pathInfo());
    }
    void doPost(Request& request, Response& response) override
    {
        response.setStatus(201);
        response.setBody("post " + request.body());
    }
    void doDelete(Request&, Response& response) override { response.setStatus(204); }
};

class HeadOnly : public HttpServlet {
public:
    void doHead(Request&, Response& response) override { response.setHeader("X-Head", "1"); }
};

/// Echoes how it was routed.
class Echo : public HttpServlet {
public:
    explicit Echo(std::string name) : name_(std::move(name)) {}
    void doGet(Request& request, Response& response) override
    {
        std::string params;
        for (const auto& [k, v] : request.pathParameters()) params += k + "=" + v + ";";
        response.setBody(name_ + " ctx=" + request.contextPath() + " sp=" + request.servletPath() +
                         " pi=" + request.pathInfo() + " params=" + params);
    }

private:
    std::string name_;
};

Request make(const std::string& method, const std::string& target)
{
    Request r;
    RequestBuilder(r).setMethod(method);
    REQUIRE(RequestBuilder(r).setTarget(target));
    return r;
}

Response run(HttpServlet& servlet, const std::string& method, const std::string& target = "/")
{
    auto req = make(method, target);
    Response res;
    servlet.service(req, res);
    return res;
}

}  // namespace

TEST_SUITE("servlet") {

TEST_CASE("overridden methods are found at compile time")
{
    CHECK(HttpServlet::overriddenMethods<GetOnly>() == (HttpServlet::Get | HttpServlet::Head | HttpServlet::Options));
    CHECK(HttpServlet::overriddenMethods<Api>() == (HttpServlet::Get | HttpServlet::Head | HttpServlet::Post |
                                                   HttpServlet::Delete | HttpServlet::Options));
    CHECK(HttpServlet::overriddenMethods<HeadOnly>() == (HttpServlet::Head | HttpServlet::Options));
}

TEST_CASE("service dispatches by method")
{
    Api api;
    api.setImplementedMethods(HttpServlet::overriddenMethods<Api>());
    auto get = run(api, "GET");
    CHECK(get.status() == 200);
    CHECK(get.body() == "get |");

    auto req = make("POST", "/");
    RequestBuilder(req).setBody("data");
    Response post;
    api.service(req, post);
    CHECK(post.status() == 201);
    CHECK(post.body() == "post data");

    CHECK(run(api, "DELETE").status() == 204);
}

TEST_CASE("unimplemented methods answer 405 with Allow")
{
    Api api;
    api.setImplementedMethods(HttpServlet::overriddenMethods<Api>());
    CHECK(api.allowHeader() == "GET, HEAD, POST, DELETE, OPTIONS");
    for (const char* method : {"PUT", "PATCH"}) {
        auto res = run(api, method);
        CHECK(res.status() == 405);
        CHECK(res.headers().get("Allow") == "GET, HEAD, POST, DELETE, OPTIONS");
        CHECK(res.body() == "Method Not Allowed");
    }
    GetOnly getOnly;
    getOnly.setImplementedMethods(HttpServlet::overriddenMethods<GetOnly>());
    auto res = run(getOnly, "POST");
    CHECK(res.status() == 405);
    CHECK(res.headers().get("Allow") == "GET, HEAD, OPTIONS");
}

TEST_CASE("unknown methods answer 501")
{
    GetOnly servlet;
    for (const char* method : {"BREW", "TRACE", "CONNECT", "get"}) {
        auto res = run(servlet, method);
        CHECK_MESSAGE(res.status() == 501, method);
        CHECK(res.body() == "Not Implemented");
    }
}

TEST_CASE("OPTIONS answers 204 with Allow")
{
    GetOnly servlet;
    servlet.setImplementedMethods(HttpServlet::overriddenMethods<GetOnly>());
    auto res = run(servlet, "OPTIONS");
    CHECK(res.status() == 204);
    CHECK(res.headers().get("Allow") == "GET, HEAD, OPTIONS");
    CHECK(res.body().empty());

    HttpServlet plain;  // never added: reports every method
    CHECK(plain.allowHeader() == "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS");
    plain.setImplementedMethods(0);
    CHECK(plain.allowHeader() == "OPTIONS");
}

TEST_CASE("HEAD runs GET and leaves the body for the server to measure and strip")
{
    GetOnly servlet;
    auto res = run(servlet, "HEAD");
    CHECK(res.status() == 200);
    CHECK(res.headers().get("Content-Type") == "text/plain");
    CHECK(res.body() == "hello");

    HeadOnly head;
    head.setImplementedMethods(HttpServlet::overriddenMethods<HeadOnly>());
    auto h = run(head, "HEAD");
    CHECK(h.status() == 200);
    CHECK(h.headers().get("X-Head") == "1");
    CHECK(run(head, "GET").status() == 405);
}

TEST_CASE("ServletContextHandler routes by spec inside its context")
{
    auto context = std::make_shared<ServletContextHandler>("/app");
    context->addServlet("/", std::make_shared<Echo>("default"));
    context->addServlet("/chat", std::make_shared<Echo>("exact"));
    context->addServlet("/api/*", std::make_shared<Echo>("prefix"));
    context->addServlet("*.html", std::make_shared<Echo>("suffix"));
    context->addServlet("/rooms/{room}", std::make_shared<Echo>("template"));

    auto route = [&](const std::string& target) {
        auto req = make("GET", target);
        Response res;
        REQUIRE(context->handle(req, res));
        return res.body();
    };
    CHECK(route("/app/chat") == "exact ctx=/app sp=/chat pi= params=");
    CHECK(route("/app/api/users/7") == "prefix ctx=/app sp=/api pi=/users/7 params=");
    CHECK(route("/app/api/page.html") == "prefix ctx=/app sp=/api pi=/page.html params=");
    CHECK(route("/app/docs/page.html") == "suffix ctx=/app sp=/docs/page.html pi= params=");
    CHECK(route("/app/rooms/lobby") == "template ctx=/app sp=/rooms/lobby pi= params=room=lobby;");
    CHECK(route("/app/rooms/a%20b") == "template ctx=/app sp=/rooms/a b pi= params=room=a b;");
    CHECK(route("/app/other") == "default ctx=/app sp=/other pi= params=");
    CHECK(route("/app/") == "default ctx=/app sp=/ pi= params=");

    auto req = make("GET", "/apple");
    Response res;
    CHECK_FALSE(context->handle(req, res));
}

TEST_CASE("servlets added by type get their Allow from their overrides")
{
    ServletContextHandler context;
    auto servlet = std::make_shared<Api>();
    context.addServlet("/api", servlet);
    CHECK(servlet->implementedMethods() == HttpServlet::overriddenMethods<Api>());
    auto req = make("PUT", "/api");
    Response res;
    REQUIRE(context.handle(req, res));
    CHECK(res.status() == 405);
    CHECK(res.headers().get("Allow") == "GET, HEAD, POST, DELETE, OPTIONS");
}

TEST_CASE("no matching servlet passes, so the server answers 404")
{
    ServletContextHandler context("/");
    context.addServlet("/only", std::make_shared<GetOnly>());
    auto req = make("GET", "/other");
    Response res;
    CHECK_FALSE(context.handle(req, res));
    ServletContextHandler empty;
    CHECK_FALSE(empty.handle(req, res));
}

TEST_CASE("bad mappings throw at the add call")
{
    ServletContextHandler context;
    CHECK_THROWS_WITH_AS(context.addServlet("api/*", std::make_shared<GetOnly>()),
                         doctest::Contains("'api/*'"), std::invalid_argument);
    CHECK_THROWS_AS(context.addServlet("/a/*/b", std::make_shared<GetOnly>()), std::invalid_argument);
    context.addServlet("/x", std::make_shared<GetOnly>());
    CHECK_THROWS_WITH_AS(context.addServlet("/x", std::make_shared<GetOnly>()),
                         doctest::Contains("already mapped"), std::invalid_argument);
    CHECK_THROWS_AS(context.addStaticFiles("/static/*", "/definitely/not/a/dir/wharf"), std::invalid_argument);
}

TEST_CASE("addWebSocket configures its factory once and mounts it at the spec")
{
    ServletContextHandler context("/app");
    int calls = 0;
    CHECK_THROWS_AS(context.addWebSocket("ws", [&](WebSocketServletFactory&) { ++calls; }), std::invalid_argument);
    CHECK(calls == 0);  // a bad spec fails before the user's configure runs

    context.addWebSocket("/ws/*", [&](WebSocketServletFactory& factory) {
        ++calls;
        factory.setIdleTimeout(std::chrono::seconds(5));
        CHECK(factory.policy().idleTimeout == std::chrono::seconds(5));
    });
    CHECK(calls == 1);

    // A plain GET reaches the WebSocket servlet (which refuses it), not the 404 path.
    auto req = make("GET", "/app/ws/echo");
    Response res;
    REQUIRE(context.handle(req, res));
    CHECK(res.status() >= 400);
    CHECK(res.status() != 404);
    CHECK(req.servletPath() == "/ws");
    CHECK(req.pathInfo() == "/echo");

    auto other = make("GET", "/app/elsewhere");
    CHECK_FALSE(context.handle(other, res));
}

}  // TEST_SUITE
