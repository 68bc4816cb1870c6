#include <wharf/Http.hpp>

#include "handler/RequestBuilder.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using wharf::Headers;
using wharf::Request;
using wharf::detail::RequestBuilder;
using wharf::Response;
using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST_SUITE("http") {

TEST_CASE("iequals compares ASCII case-insensitively")
{
    CHECK(wharf::iequals("Content-Type", "content-type"));
    CHECK(wharf::iequals("", ""));
    CHECK_FALSE(wharf::iequals("Content-Type", "Content-Typ"));
    CHECK_FALSE(wharf::iequals("a", "b"));
    CHECK_FALSE(wharf::iequals("[", "{"));  // differ by 0x20 but are not letters
}

TEST_CASE("headers keep order and compare names case-insensitively")
{
    Headers h;
    h.add("Accept", "text/html");
    h.add("X-Trace", "1");
    h.add("accept", "application/json");
    CHECK(h.size() == 3);
    CHECK(h.get("ACCEPT") == "text/html");
    CHECK(h.getAll("Accept") == std::vector<std::string_view>{"text/html", "application/json"});
    CHECK(h.contains("x-trace"));
    CHECK_FALSE(h.get("Missing"));

    SUBCASE("set replaces every field of that name, in the first one's place") {
        h.set("ACCEPT", "*/*");
        REQUIRE(h.size() == 2);
        CHECK(h.fields()[0] == Headers::Field{"ACCEPT", "*/*"});
        CHECK(h.fields()[1].first == "X-Trace");
        CHECK(h.getAll("accept").size() == 1);
    }
    SUBCASE("set appends a new name") {
        h.set("Server", "wharf");
        CHECK(h.fields().back() == Headers::Field{"Server", "wharf"});
    }
    SUBCASE("erase removes all of a name") {
        h.erase("accept");
        CHECK(h.size() == 1);
        CHECK_FALSE(h.contains("Accept"));
    }
}

TEST_CASE("setTarget splits path and query and percent-decodes the path")
{
    Request r;
    REQUIRE(RequestBuilder(r).setTarget("/a%20b/c%2Fd/%e2%82%AC?x=1&y=%20+"));
    CHECK(r.target() == "/a%20b/c%2Fd/%e2%82%AC?x=1&y=%20+");
    CHECK(r.path() == "/a b/c/d/\xe2\x82\xac");
    CHECK(r.queryString() == "x=1&y=%20+");

    REQUIRE(RequestBuilder(r).setTarget("/plus+stays"));
    CHECK(r.path() == "/plus+stays");
    CHECK(r.queryString() == "");

    REQUIRE(RequestBuilder(r).setTarget("/empty?"));
    CHECK(r.path() == "/empty");
    CHECK(r.queryString() == "");

    REQUIRE(RequestBuilder(r).setTarget("/q?a=1?b=2"));
    CHECK(r.queryString() == "a=1?b=2");
}

TEST_CASE("malformed targets are refused and leave the request unchanged")
{
    Request r;
    REQUIRE(RequestBuilder(r).setTarget("/ok?q=1"));
    for (const char* bad : {"", "relative", "http://example.com/x", "/bad%", "/bad%2", "/bad%zz", "/bad%g0",
                            "/nul%00", "/a%00b", "/frag#x", "/sp ace", "*"}) {
        CHECK_FALSE_MESSAGE(RequestBuilder(r).setTarget(bad), bad);
        CHECK(r.target() == "/ok?q=1");
        CHECK(r.path() == "/ok");
        CHECK(r.queryString() == "q=1");
    }
    CHECK_FALSE(RequestBuilder(r).setTarget(std::string("/raw\0nul", 8)));
    CHECK_FALSE(RequestBuilder(r).setTarget("/tab\there"));
}

TEST_CASE("asterisk-form is for OPTIONS only")
{
    Request r;
    RequestBuilder(r).setMethod("OPTIONS");
    REQUIRE(RequestBuilder(r).setTarget("*"));
    CHECK(r.path() == "*");
    RequestBuilder(r).setMethod("GET");
    CHECK_FALSE(RequestBuilder(r).setTarget("*"));
}

TEST_CASE("query parameters follow application/x-www-form-urlencoded")
{
    Request r;
    REQUIRE(RequestBuilder(r).setTarget("/s?q=a+b%2Bc&empty=&flag&&x=%E2%82%AC&q=second&bad=%zz&a%20b=1&=v"));
    CHECK(r.queryParameters() == Pairs{{"q", "a b+c"},
                                       {"empty", ""},
                                       {"flag", ""},
                                       {"x", "\xe2\x82\xac"},
                                       {"q", "second"},
                                       {"bad", "%zz"},
                                       {"a b", "1"},
                                       {"", "v"}});
    CHECK(r.queryParameter("q") == "a b+c");
    CHECK(r.queryParameter("flag") == "");
    CHECK(r.queryParameter("a b") == "1");
    CHECK_FALSE(r.queryParameter("missing"));
    CHECK_FALSE(r.queryParameter("Q"));  // names are case-sensitive

    REQUIRE(RequestBuilder(r).setTarget("/none"));
    CHECK(r.queryParameters().empty());
    REQUIRE(RequestBuilder(r).setTarget("/eq?k=a=b"));
    CHECK(r.queryParameter("k") == "a=b");
}

TEST_CASE("cookies are parsed from every Cookie header")
{
    Request r;
    RequestBuilder(r).headers().add("Cookie", "session=abc123; theme=\"dark mode\";lang=en");
    RequestBuilder(r).headers().add("Host", "example.com");
    RequestBuilder(r).headers().add("cookie", "  extra = 1 ; novalue; =anon; empty=; session=second; pct=a%20b");
    CHECK(r.cookies() == Pairs{{"session", "abc123"},
                               {"theme", "dark mode"},
                               {"lang", "en"},
                               {"extra", "1"},
                               {"empty", ""},
                               {"session", "second"},
                               {"pct", "a%20b"}});
    CHECK(r.cookie("session") == "abc123");
    CHECK(r.cookie("theme") == "dark mode");
    CHECK(r.cookie("empty") == "");
    CHECK(r.cookie("pct") == "a%20b");
    CHECK_FALSE(r.cookie("novalue"));
    CHECK_FALSE(r.cookie("Session"));

    Request none;
    CHECK(none.cookies().empty());
    CHECK_FALSE(none.cookie("x"));
}

TEST_CASE("routing fields and path parameters")
{
    Request r;
    CHECK(r.pathInContext() == "/");
    RequestBuilder(r).setContext("/app", "/rooms/7");
    CHECK(r.contextPath() == "/app");
    CHECK(r.pathInContext() == "/rooms/7");
    RequestBuilder(r).setServletMatch("/rooms/7", "", {{"room", "7"}});
    CHECK(r.servletPath() == "/rooms/7");
    CHECK(r.pathInfo() == "");
    CHECK(r.pathParameter("room") == "7");
    CHECK_FALSE(r.pathParameter("user"));
    CHECK(r.pathParameters().size() == 1);
}

TEST_CASE("version, remote address and security flags")
{
    Request r;
    CHECK(r.versionMajor() == 1);
    CHECK(r.versionMinor() == 1);
    RequestBuilder(r).setVersion(10);
    CHECK(r.versionMinor() == 0);
    RequestBuilder(r).setRemoteAddress("[::1]:5000");
    CHECK(r.remoteAddress() == "[::1]:5000");
    RequestBuilder(r).setSecure(true);
    CHECK(r.isSecure());
}

TEST_CASE("sendError sets status and a text/plain body")
{
    Response res;
    res.setFile(::open("/dev/null", O_RDONLY | O_CLOEXEC), 10);
    res.sendError(404);
    CHECK(res.status() == 404);
    CHECK(res.body() == "Not Found");
    CHECK(res.headers().get("content-type") == "text/plain; charset=utf-8");
    CHECK_FALSE(res.file());  // an error never streams a file

    res.sendError(400, "bad cookie");
    CHECK(res.status() == 400);
    CHECK(res.body() == "bad cookie");
    CHECK(res.headers().getAll("Content-Type").size() == 1);
}

TEST_CASE("setFile replaces the body and setBody replaces the file")
{
    Response res;
    res.write("hello ");
    res.write("world");
    CHECK(res.body() == "hello world");
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    res.setFile(fd, 1234);
    CHECK(res.body().empty());
    REQUIRE(res.file());
    CHECK(*res.file() == fd);
    CHECK(res.fileSize() == 1234);
    const auto held = res.file();  // a write in progress holds the descriptor the same way
    res.setBody("x");
    CHECK_FALSE(res.file());
    CHECK(res.fileSize() == 0);
    CHECK(::fcntl(fd, F_GETFD) != -1);  // still open while held
    CHECK(*held == fd);
}

TEST_CASE("setFile(path) opens regular files only, and owns what it opened")
{
    Response res;
    CHECK_FALSE(res.setFile(std::filesystem::path("/nonexistent/wharf-file")));
    CHECK_FALSE(res.setFile(std::filesystem::path("/dev/null")));  // not a regular file
    CHECK_FALSE(res.file());
    const auto file = std::filesystem::temp_directory_path() / ("wharf-setfile-" + std::to_string(::getpid()));
    std::ofstream(file, std::ios::binary) << "twelve bytes";
    REQUIRE(res.setFile(file));
    std::filesystem::remove(file);
    REQUIRE(res.file());
    CHECK(res.fileSize() == 12);
    char text[12];
    CHECK(::pread(*res.file(), text, sizeof text, 0) == 12);
    CHECK(std::string_view(text, sizeof text) == "twelve bytes");
    CHECK_THROWS_AS(res.setFile(-1, 1), std::invalid_argument);
}

TEST_CASE("reason phrases")
{
    CHECK(wharf::reasonPhrase(200) == "OK");
    CHECK(wharf::reasonPhrase(101) == "Switching Protocols");
    CHECK(wharf::reasonPhrase(302) == "Found");
    CHECK(wharf::reasonPhrase(304) == "Not Modified");
    CHECK(wharf::reasonPhrase(404) == "Not Found");
    CHECK(wharf::reasonPhrase(405) == "Method Not Allowed");
    CHECK(wharf::reasonPhrase(426) == "Upgrade Required");
    CHECK(wharf::reasonPhrase(431) == "Request Header Fields Too Large");
    CHECK(wharf::reasonPhrase(501) == "Not Implemented");
    CHECK(wharf::reasonPhrase(599) == "Unknown");
}

}  // TEST_SUITE
