#include <wharf/Handler.hpp>

#include "handler/RequestBuilder.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

using namespace wharf;
using wharf::detail::RequestBuilder;

namespace {

/// Answers with its name and records what routing told it; or passes when `answer` is false.
class Probe : public Handler {
public:
    explicit Probe(std::string name, bool answer = true) : name_(std::move(name)), answer_(answer) {}
    bool handle(Request& request, Response& response) override
    {
        ++calls;
        contextPath = request.contextPath();
        pathInContext = request.pathInContext();
        if (answer_) response.setBody(name_);
        return answer_;
    }
    int calls = 0;
    std::string contextPath, pathInContext;

private:
    std::string name_;
    bool answer_;
};

Request get(const std::string& target)
{
    Request r;
    REQUIRE(RequestBuilder(r).setTarget(target));
    return r;
}

}  // namespace

TEST_SUITE("handler") {

TEST_CASE("HandlerList asks each handler until one answers")
{
    auto pass = std::make_shared<Probe>("pass", false);
    auto first = std::make_shared<Probe>("first");
    auto second = std::make_shared<Probe>("second");
    HandlerList list({pass, nullptr, first});
    list.addHandler(second);
    CHECK(list.handlers().size() == 4);

    auto req = get("/x");
    Response res;
    CHECK(list.handle(req, res));
    CHECK(res.body() == "first");
    CHECK(pass->calls == 1);
    CHECK(second->calls == 0);

    HandlerList empty;
    CHECK_FALSE(empty.handle(req, res));
    HandlerList allPass({pass});
    CHECK_FALSE(allPass.handle(req, res));
}

TEST_CASE("a context takes its path and below, not a longer name")
{
    ContextHandler context("/app");
    CHECK(context.contextPath() == "/app");
    CHECK(context.matches("/app"));
    CHECK(context.matches("/app/"));
    CHECK(context.matches("/app/x/y"));
    CHECK_FALSE(context.matches("/apple"));
    CHECK_FALSE(context.matches("/ap"));
    CHECK_FALSE(context.matches("/"));
    CHECK_FALSE(context.matches("/other/app"));
}

TEST_CASE("root contexts match everything")
{
    for (const char* root : {"/", ""}) {
        ContextHandler context(root);
        CHECK(context.contextPath() == "");
        CHECK(context.matches("/"));
        CHECK(context.matches("/anything"));
    }
}

TEST_CASE("context paths are validated and normalised")
{
    CHECK(ContextHandler("/app/").contextPath() == "/app");
    CHECK_THROWS_AS(ContextHandler("app"), std::invalid_argument);
    CHECK_THROWS_AS(ContextHandler("/app/*"), std::invalid_argument);
    CHECK_THROWS_AS(ContextHandler("//app"), std::invalid_argument);
    CHECK_THROWS_AS(ContextHandler("/a?b"), std::invalid_argument);
}

TEST_CASE("a context sets contextPath and pathInContext for its child")
{
    auto probe = std::make_shared<Probe>("child");
    ContextHandler context("/app", probe);
    auto req = get("/app/rooms/7?x=1");
    Response res;
    REQUIRE(context.handle(req, res));
    CHECK(res.body() == "child");
    CHECK(probe->contextPath == "/app");
    CHECK(probe->pathInContext == "/rooms/7");
    CHECK(req.contextPath() == "/app");

    auto root = std::make_shared<Probe>("root");
    ContextHandler rootContext("/", root);
    auto req2 = get("/rooms/7");
    REQUIRE(rootContext.handle(req2, res));
    CHECK(root->contextPath == "");
    CHECK(root->pathInContext == "/rooms/7");
}

TEST_CASE("a context does not take other paths")
{
    auto probe = std::make_shared<Probe>("child");
    ContextHandler context("/app", probe);
    auto req = get("/apple");
    Response res;
    CHECK_FALSE(context.handle(req, res));
    CHECK(probe->calls == 0);
    CHECK(res.status() == 200);
    CHECK(res.body().empty());
}

TEST_CASE("exactly the context path redirects to it with a slash, keeping the query")
{
    auto probe = std::make_shared<Probe>("child");
    ContextHandler context("/app", probe);
    SUBCASE("without query") {
        auto req = get("/app");
        Response res;
        REQUIRE(context.handle(req, res));
        CHECK(res.status() == 302);
        CHECK(res.headers().get("Location") == "/app/");
    }
    SUBCASE("with query") {
        auto req = get("/app?room=1&x=%20");
        Response res;
        REQUIRE(context.handle(req, res));
        CHECK(res.status() == 302);
        CHECK(res.headers().get("Location") == "/app/?room=1&x=%20");
    }
    SUBCASE("encoded request path stays encoded") {
        auto req = get("/%61pp");
        Response res;
        REQUIRE(context.handle(req, res));
        CHECK(res.headers().get("Location") == "/%61pp/");
    }
    CHECK(probe->calls == 0);
}

TEST_CASE("a context with no handler or a passing handler passes and restores the request")
{
    auto req = get("/app/x");
    RequestBuilder(req).setContext("/outer", "/app/x");
    Response res;
    ContextHandler bare("/app");
    CHECK_FALSE(bare.handle(req, res));
    ContextHandler passing("/app", std::make_shared<Probe>("p", false));
    CHECK_FALSE(passing.handle(req, res));
    CHECK(req.contextPath() == "/outer");
    CHECK(req.pathInContext() == "/app/x");
}

TEST_CASE("ContextHandlerCollection: the longest context path wins")
{
    auto root = std::make_shared<Probe>("root");
    auto app = std::make_shared<Probe>("app");
    auto appAdmin = std::make_shared<Probe>("app-admin");
    auto apple = std::make_shared<Probe>("apple");
    ContextHandlerCollection contexts;
    contexts.addHandler(std::make_shared<ContextHandler>("/", root));
    contexts.addHandler(std::make_shared<ContextHandler>("/app", app));
    contexts.addHandler(std::make_shared<ContextHandler>("/app/admin", appAdmin));
    contexts.addHandler(std::make_shared<ContextHandler>("/apple", apple));

    auto route = [&](const std::string& target) {
        auto req = get(target);
        Response res;
        REQUIRE(contexts.handle(req, res));
        return res.status() == 302 ? "302 " + std::string(*res.headers().get("Location")) : res.body();
    };
    CHECK(route("/app/admin/users") == "app-admin");
    CHECK(app->calls == 0);
    CHECK(appAdmin->contextPath == "/app/admin");
    CHECK(appAdmin->pathInContext == "/users");
    CHECK(route("/app/x") == "app");
    CHECK(route("/apple/pie") == "apple");
    CHECK(route("/apples") == "root");
    CHECK(route("/") == "root");
    CHECK(route("/app") == "302 /app/");
    CHECK(route("/app/administrator") == "app");
}

TEST_CASE("ContextHandlerCollection falls back to a shorter context when the longer passes")
{
    auto root = std::make_shared<Probe>("root");
    auto passing = std::make_shared<Probe>("app", false);
    ContextHandlerCollection contexts;
    contexts.addHandler(std::make_shared<ContextHandler>("/app", passing));
    contexts.addHandler(std::make_shared<ContextHandler>("/", root));
    auto req = get("/app/x");
    Response res;
    REQUIRE(contexts.handle(req, res));
    CHECK(res.body() == "root");
    CHECK(passing->calls == 1);
    CHECK(root->pathInContext == "/app/x");

    ContextHandlerCollection none;
    CHECK_FALSE(none.handle(req, res));
    CHECK_THROWS_AS(none.addHandler(nullptr), std::invalid_argument);
}

}  // TEST_SUITE
