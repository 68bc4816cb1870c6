#include "detail/PathSpec.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using wharf::detail::PathMappings;
using wharf::detail::PathSpec;
using Kind = PathSpec::Kind;

TEST_SUITE("pathspec") {

TEST_CASE("each kind of spec is recognised")
{
    CHECK(PathSpec("/").kind() == Kind::Default);
    CHECK(PathSpec("/chat").kind() == Kind::Exact);
    CHECK(PathSpec("/docs/").kind() == Kind::Exact);
    CHECK(PathSpec("/api/*").kind() == Kind::Prefix);
    CHECK(PathSpec("/*").kind() == Kind::Prefix);
    CHECK(PathSpec("*.html").kind() == Kind::Suffix);
    CHECK(PathSpec("/rooms/{room}").kind() == Kind::Template);
    CHECK(PathSpec("/api/*").spec() == "/api/*");
}

TEST_CASE("exact specs match only their path")
{
    PathSpec spec("/chat");
    auto m = spec.match("/chat");
    REQUIRE(m);
    CHECK(m->servletPath == "/chat");
    CHECK(m->pathInfo.empty());
    CHECK(m->params.empty());
    CHECK_FALSE(spec.match("/chat/"));
    CHECK_FALSE(spec.match("/chatroom"));
    CHECK_FALSE(spec.match("/Chat"));
    CHECK_FALSE(spec.match("/"));
}

TEST_CASE("prefix specs split servlet path and path info")
{
    PathSpec spec("/api/*");
    SUBCASE("the prefix itself") {
        auto m = spec.match("/api");
        REQUIRE(m);
        CHECK(m->servletPath == "/api");
        CHECK(m->pathInfo == "");
    }
    SUBCASE("with a trailing slash") {
        auto m = spec.match("/api/");
        REQUIRE(m);
        CHECK(m->servletPath == "/api");
        CHECK(m->pathInfo == "/");
    }
    SUBCASE("deeper paths") {
        auto m = spec.match("/api/users/7");
        REQUIRE(m);
        CHECK(m->servletPath == "/api");
        CHECK(m->pathInfo == "/users/7");
    }
    SUBCASE("not a segment boundary") { CHECK_FALSE(spec.match("/apis")); }
    SUBCASE("elsewhere") { CHECK_FALSE(spec.match("/v1/api/x")); }
}

TEST_CASE("the /* prefix takes everything as path info")
{
    auto m = PathSpec("/*").match("/a/b");
    REQUIRE(m);
    CHECK(m->servletPath == "");
    CHECK(m->pathInfo == "/a/b");
}

TEST_CASE("suffix specs match by extension")
{
    PathSpec spec("*.html");
    auto m = spec.match("/docs/index.html");
    REQUIRE(m);
    CHECK(m->servletPath == "/docs/index.html");
    CHECK(m->pathInfo == "");
    CHECK(spec.match("/a.html"));
    CHECK_FALSE(spec.match("/a.htm"));
    CHECK_FALSE(spec.match("/a.html/b"));
    CHECK_FALSE(spec.match("/ahtml"));
}

TEST_CASE("the default spec matches everything")
{
    auto m = PathSpec("/").match("/anything/at/all");
    REQUIRE(m);
    CHECK(m->servletPath == "/anything/at/all");
    CHECK(m->pathInfo == "");
    CHECK(PathSpec("/").match("/"));
}

TEST_CASE("templates bind one non-empty segment per variable")
{
    PathSpec spec("/rooms/{room}/users/{user_id}");
    auto m = spec.match("/rooms/lobby/users/42");
    REQUIRE(m);
    CHECK(m->servletPath == "/rooms/lobby/users/42");
    CHECK(m->pathInfo == "");
    CHECK(m->params.size() == 2);
    CHECK(m->params.at("room") == "lobby");
    CHECK(m->params.at("user_id") == "42");

    CHECK_FALSE(spec.match("/rooms//users/42"));         // empty value
    CHECK_FALSE(spec.match("/rooms/a/b/users/42"));      // value spans a '/'
    CHECK_FALSE(spec.match("/rooms/lobby/users/42/x"));  // too many segments
    CHECK_FALSE(spec.match("/rooms/lobby/users"));       // too few
    CHECK_FALSE(spec.match("/room/lobby/users/42"));     // literal differs
    CHECK_FALSE(spec.match("/rooms/lobby/users/"));
}

TEST_CASE("a template can start with a variable")
{
    auto m = PathSpec("/{tenant}/status").match("/acme/status");
    REQUIRE(m);
    CHECK(m->params.at("tenant") == "acme");
    CHECK_FALSE(PathSpec("/{tenant}/status").match("/acme/other"));
}

TEST_CASE("malformed specs throw naming the spec and the problem")
{
    auto message = [](const char* spec) {
        try {
            PathSpec{spec};
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    CHECK(message("").find("empty") != std::string::npos);
    CHECK(message("chat").find("'chat'") != std::string::npos);
    CHECK(message("chat").find("start with '/'") != std::string::npos);
    CHECK(message("/api/*/x").find("'*'") != std::string::npos);
    CHECK(message("/a*").find("'/a*'") != std::string::npos);
    CHECK(message("//x").find("empty path segment") != std::string::npos);
    CHECK(message("/a//b").find("empty path segment") != std::string::npos);
    CHECK(message("/api//*").find("empty path segment") != std::string::npos);
    CHECK(message("*").find("suffix") != std::string::npos);
    CHECK(message("*.").find("suffix") != std::string::npos);
    CHECK(message("*html").find("suffix") != std::string::npos);
    CHECK(message("*.a/b").find("'/'") != std::string::npos);
    CHECK(message("/rooms/{room}/{room}").find("appears twice") != std::string::npos);
    CHECK(message("/rooms/x{room}").find("whole segment") != std::string::npos);
    CHECK(message("/rooms/{room}x").find("whole-segment") != std::string::npos);
    CHECK(message("/rooms/{}").find("whole-segment") != std::string::npos);
    CHECK(message("/rooms/{ro-om}").find("A-Z") != std::string::npos);
    CHECK(message("/rooms/{room}/").find("empty path segment") != std::string::npos);
    CHECK(message("/rooms/{room}/*").find("'{'") != std::string::npos);
    CHECK(message("/rooms/{room").find("whole-segment") != std::string::npos);
    CHECK(message("/rooms/{room}/a*").find("'*'") != std::string::npos);
    for (const char* ok : {"/", "/a", "/a/", "/a/*", "/*", "*.gz", "*.tar.gz", "/{a}", "/x/{a}/y/{b_2}"})
        CHECK_MESSAGE(message(ok) == "no exception", ok);
}

TEST_CASE("precedence: exact > template > longest prefix > suffix > default")
{
    PathMappings<std::string> mappings;
    // Added worst first so the order comes from precedence, not insertion.
    mappings.add(PathSpec("/"), "default");
    mappings.add(PathSpec("*.json"), "suffix");
    mappings.add(PathSpec("/*"), "root-prefix");
    mappings.add(PathSpec("/api/*"), "prefix");
    mappings.add(PathSpec("/api/v1/*"), "longer-prefix");
    mappings.add(PathSpec("/api/v1/{thing}"), "template");
    mappings.add(PathSpec("/api/v1/{a}/{b}"), "template2");
    mappings.add(PathSpec("/api/v1/users/{id}"), "more-literal-template");
    mappings.add(PathSpec("/api/v1/status"), "exact");

    auto find = [&](const char* path) {
        auto f = mappings.find(path);
        return f ? *f->value : std::string("none");
    };
    CHECK(find("/api/v1/status") == "exact");
    CHECK(find("/api/v1/health") == "template");
    CHECK(find("/api/v1/users/7") == "more-literal-template");
    CHECK(find("/api/v1/orders/7") == "template2");
    CHECK(find("/api/v1/a/b/c") == "longer-prefix");
    CHECK(find("/api/v2/x.json") == "prefix");
    CHECK(find("/other.json") == "root-prefix");  // "/*" is a prefix: it beats suffixes

    auto values = mappings.find("/api/v1/users/7");
    REQUIRE(values);
    CHECK(values->match.params.at("id") == "7");
}

TEST_CASE("suffix beats default, longer suffix first")
{
    PathMappings<std::string> mappings;
    mappings.add(PathSpec("/"), "default");
    mappings.add(PathSpec("*.gz"), "gz");
    mappings.add(PathSpec("*.tar.gz"), "tar.gz");
    CHECK(*mappings.find("/a.tar.gz")->value == "tar.gz");
    CHECK(*mappings.find("/a.gz")->value == "gz");
    CHECK(*mappings.find("/a.txt")->value == "default");
    CHECK(mappings.find("/a.txt")->match.servletPath == "/a.txt");
}

TEST_CASE("betterThan is a strict order")
{
    CHECK(PathSpec("/a").betterThan(PathSpec("/{x}")));
    CHECK_FALSE(PathSpec("/{x}").betterThan(PathSpec("/a")));
    CHECK(PathSpec("/a/b/*").betterThan(PathSpec("/a/*")));
    CHECK_FALSE(PathSpec("/a/*").betterThan(PathSpec("/b/*")));
    CHECK_FALSE(PathSpec("/").betterThan(PathSpec("/")));
    CHECK(PathSpec("*.x").betterThan(PathSpec("/")));
}

}  // TEST_SUITE
