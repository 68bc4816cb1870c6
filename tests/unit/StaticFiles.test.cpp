#include "detail/StaticFiles.hpp"
#include "handler/RequestBuilder.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace wharf;
using wharf::detail::RequestBuilder;
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr std::string_view secretText = "TOP SECRET: outside the root";

/// A temporary tree: <base>/secret.txt and <base>/elsewhere/ outside, <base>/root/ served.
struct Tree {
    fs::path base, root;

    Tree()
    {
        std::random_device rd;
        // Canonical, so the absolute symlinks below spell the root as the servlet knows it.
        base = fs::canonical(fs::temp_directory_path()) / ("wharf-static-" + std::to_string(rd()) + "-" + std::to_string(rd()));
        root = base / "root";
        fs::create_directories(root / "docs");
        fs::create_directories(root / "empty");
        fs::create_directories(root / "trap");
        fs::create_directories(base / "rootx");
        write(base / "secret.txt", secretText);
        write(base / "rootx" / "file.txt", secretText);
        write(root / "index.html", "<h1>home</h1>");
        write(root / "a.txt", "hello");
        write(root / "docs" / "index.html", "docs index");
        write(root / "noext", "?");
        write(root / "back\\slash.txt", "a Windows separator on Windows");  // exists, yet refused
        fs::create_symlink(base / "secret.txt", root / "link-out");
        fs::create_directory_symlink(base, root / "dir-out");
        fs::create_symlink(base / "secret.txt", root / "trap" / "index.html");
        fs::create_symlink(base / "rootx" / "file.txt", root / "sib");  // "rootx" starts with "root"
        fs::create_symlink(root / "a.txt", root / "link-in");
        // Symlinks that stay inside the root, by every route.
        fs::create_directories(root / "evil.example");
        fs::create_symlink("a.txt", root / "rel-in");
        fs::create_symlink("../a.txt", root / "docs" / "up-in");
        fs::create_symlink("link-in", root / "chain-in");
        fs::create_directory_symlink("docs", root / "dir-in");
        fs::create_directory_symlink(root / "docs", root / "abs-dir-in");
        fs::create_symlink("docs/./../a.txt", root / "dir-in-dotdot");  // ".." after a real directory
        // ... and that lead out, or nowhere.
        fs::create_symlink("../../secret.txt", root / "docs" / "up-out");
        fs::create_symlink(root.string() + "/../secret.txt", root / "abs-dotdot-out");
        fs::create_symlink("loop-b", root / "loop-a");
        fs::create_symlink("loop-a", root / "loop-b");
        fs::create_symlink("a.txt/x", root / "through-file");
    }
    ~Tree()
    {
        std::error_code ec;
        fs::remove_all(base, ec);
    }
    static void write(const fs::path& file, std::string_view text)
    {
        std::ofstream(file, std::ios::binary) << text;
    }
};

Response serve(Handler& handler, const std::string& target, const std::string& method = "GET",
               std::vector<std::pair<std::string, std::string>> headers = {})
{
    Request req;
    RequestBuilder(req).setMethod(method);
    REQUIRE_MESSAGE(RequestBuilder(req).setTarget(target), target);
    for (auto& [n, v] : headers) RequestBuilder(req).headers().add(n, v);
    Response res;
    if (!handler.handle(req, res)) res.setStatus(404);  // what the server does
    return res;
}

/// Everything a descriptor would send: its first `size` bytes (as the server reads them).
std::string contents(int fd, std::uint64_t size)
{
    std::string out(size, '\0');
    const auto n = ::pread(fd, out.data(), out.size(), 0);
    REQUIRE(n >= 0);
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// The bytes a file response sends ("" without one).
std::string sent(const Response& res)
{
    return res.file() ? contents(*res.file(), res.fileSize()) : std::string();
}

/// The request must be refused with 404, serving nothing.
void checkRefused(const Response& res, const std::string& what)
{
    CHECK_MESSAGE(res.status() == 404, what);
    CHECK_MESSAGE(!res.file(), what);
    CHECK_MESSAGE(res.body().find("SECRET") == std::string::npos, what);
}

}  // namespace

TEST_SUITE("static files") {

TEST_CASE("content types by extension")
{
    const std::pair<const char*, const char*> expected[] = {
        {"a.html", "text/html; charset=utf-8"},  {"a.htm", "text/html; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},    {"a.js", "text/javascript; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"}, {"a.txt", "text/plain; charset=utf-8"},
        {"a.json", "application/json"},          {"a.js.map", "application/json"},
        {"a.png", "image/png"},                  {"a.jpg", "image/jpeg"},
        {"a.jpeg", "image/jpeg"},                {"a.gif", "image/gif"},
        {"a.svg", "image/svg+xml"},              {"a.ico", "image/x-icon"},
        {"a.webp", "image/webp"},                {"a.wasm", "application/wasm"},
        {"a.woff", "font/woff"},                 {"a.woff2", "font/woff2"},
        {"a.pdf", "application/pdf"},            {"a.xml", "application/xml"},
        {"PIC.PNG", "image/png"},                {"Index.HTML", "text/html; charset=utf-8"},
        {"a.bin", "application/octet-stream"},   {"noext", "application/octet-stream"},
        {"dir.html/file", "application/octet-stream"}, {".html", "text/html; charset=utf-8"},
    };
    for (const auto& [name, type] : expected) CHECK_MESSAGE(detail::contentTypeFor(name) == type, name);
}

TEST_CASE("HTTP dates: IMF-fixdate out, all three RFC 9110 forms in")
{
    auto t = sys_days{year(1994) / November / 6} + hours(8) + minutes(49) + seconds(37);
    CHECK(detail::httpDate(t) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(detail::httpDate(t + milliseconds(999)) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(detail::httpDate(sys_days{year(2024) / February / 29}) == "Thu, 29 Feb 2024 00:00:00 GMT");
    CHECK(detail::parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == t);
    CHECK(detail::parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == t);
    CHECK(detail::parseHttpDate("Sun Nov  6 08:49:37 1994") == t);
    for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT junk",
                            "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 25:49:37 GMT"})
        CHECK_FALSE_MESSAGE(detail::parseHttpDate(bad), bad);
}

TEST_CASE("files are served with type, validators and no-cache")
{
    Tree tree;
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);

    auto res = serve(context, "/a.txt");
    CHECK(res.status() == 200);
    REQUIRE(res.file());
    CHECK(sent(res) == "hello");
    CHECK(res.fileSize() == 5);
    CHECK(res.body().empty());
    CHECK(res.headers().get("Content-Type") == "text/plain; charset=utf-8");
    CHECK(res.headers().get("Cache-Control") == "no-cache");
    REQUIRE(res.headers().get("ETag"));
    CHECK(res.headers().get("ETag")->starts_with("\""));
    CHECK(res.headers().get("ETag")->ends_with("\""));
    CHECK(res.headers().get("Last-Modified"));

    auto unknown = serve(context, "/noext");
    CHECK(unknown.status() == 200);
    CHECK(unknown.headers().get("Content-Type") == "application/octet-stream");

    auto inside = serve(context, "/link-in");  // a symlink that stays inside the root is fine
    CHECK(inside.status() == 200);
    REQUIRE(inside.file());
    CHECK(sent(inside) == "hello");
}

TEST_CASE("directories serve index.html and redirect without a trailing slash")
{
    Tree tree;
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);

    auto home = serve(context, "/");
    CHECK(home.status() == 200);
    REQUIRE(home.file());
    CHECK(sent(home) == "<h1>home</h1>");
    CHECK(home.headers().get("Content-Type") == "text/html; charset=utf-8");

    auto docs = serve(context, "/docs/");
    CHECK(docs.status() == 200);
    REQUIRE(docs.file());
    CHECK(sent(docs) == "docs index");

    auto redirect = serve(context, "/docs");
    CHECK(redirect.status() == 302);
    CHECK(redirect.headers().get("Location") == "/docs/");
    CHECK_FALSE(redirect.file());
    CHECK(serve(context, "/docs?lang=en").headers().get("Location") == "/docs/?lang=en");
    CHECK(serve(context, "/d%6fcs").headers().get("Location") == "/d%6fcs/");

    // RFC 3986 4.2: "//evil.example/" would send a browser to the host evil.example.
    CHECK(serve(context, "//evil.example").headers().get("Location") == "/evil.example/");
    CHECK(serve(context, "///evil.example?x=1").headers().get("Location") == "/evil.example/?x=1");
    CHECK(serve(context, "//docs").headers().get("Location") == "/docs/");

    checkRefused(serve(context, "/empty/"), "directory without index.html: no listing");
    checkRefused(serve(context, "/a.txt/"), "file with a trailing slash");
}

TEST_CASE("HEAD gets GET's headers and file (the server sends no body)")
{
    Tree tree;
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    auto get = serve(context, "/a.txt");
    auto head = serve(context, "/a.txt", "HEAD");
    CHECK(head.status() == 200);
    REQUIRE(head.file());
    CHECK(head.fileSize() == 5);
    CHECK(head.headers().get("ETag") == get.headers().get("ETag"));
    CHECK(head.headers().get("Content-Type") == get.headers().get("Content-Type"));
}

TEST_CASE("other methods are refused")
{
    Tree tree;
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
        auto res = serve(context, "/a.txt", method);
        CHECK_MESSAGE(res.status() == 405, method);
        CHECK(res.headers().get("Allow") == "GET, HEAD, OPTIONS");
        CHECK_FALSE(res.file());
    }
    auto options = serve(context, "/a.txt", "OPTIONS");
    CHECK(options.status() == 204);
    CHECK(options.headers().get("Allow") == "GET, HEAD, OPTIONS");
}

TEST_CASE("conditional GET: If-None-Match, then If-Modified-Since")
{
    Tree tree;
    auto modified = sys_days{year(2021) / March / 4} + hours(5) + minutes(6) + seconds(7) + milliseconds(250);
    fs::last_write_time(tree.root / "a.txt", file_clock::from_sys(time_point_cast<file_clock::duration>(modified)));
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);

    auto first = serve(context, "/a.txt");
    CHECK(first.headers().get("Last-Modified") == "Thu, 04 Mar 2021 05:06:07 GMT");
    const std::string etag(*first.headers().get("ETag"));

    auto notModified = [&](std::vector<std::pair<std::string, std::string>> headers) {
        auto res = serve(context, "/a.txt", "GET", std::move(headers));
        if (res.status() == 304) {
            CHECK_FALSE(res.file());
            CHECK(res.body().empty());
            CHECK(res.headers().get("ETag") == etag);
            return true;
        }
        CHECK(res.status() == 200);
        CHECK(res.file());
        return false;
    };
    SUBCASE("If-None-Match") {
        CHECK(notModified({{"If-None-Match", etag}}));
        CHECK(notModified({{"If-None-Match", "W/" + etag}}));
        CHECK(notModified({{"If-None-Match", "\"other\", " + etag}}));
        CHECK(notModified({{"If-None-Match", "*"}}));
        CHECK_FALSE(notModified({{"If-None-Match", "\"other\""}}));
        CHECK_FALSE(notModified({{"If-None-Match", etag.substr(0, etag.size() - 2) + "\""}}));
    }
    SUBCASE("If-Modified-Since") {
        CHECK(notModified({{"If-Modified-Since", "Thu, 04 Mar 2021 05:06:07 GMT"}}));
        CHECK(notModified({{"If-Modified-Since", "Fri, 05 Mar 2021 00:00:00 GMT"}}));
        CHECK_FALSE(notModified({{"If-Modified-Since", "Thu, 04 Mar 2021 05:06:06 GMT"}}));
        CHECK_FALSE(notModified({{"If-Modified-Since", "not a date"}}));
    }
    SUBCASE("If-None-Match takes precedence") {
        CHECK_FALSE(notModified({{"If-None-Match", "\"other\""}, {"If-Modified-Since", "Fri, 05 Mar 2021 00:00:00 GMT"}}));
        CHECK(notModified({{"If-None-Match", etag}, {"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}}));
    }
    SUBCASE("a changed file gets a new ETag") {
        Tree::write(tree.root / "a.txt", "hello, world");
        CHECK_FALSE(notModified({{"If-None-Match", etag}}));
    }
}

TEST_CASE("missing files are 404")
{
    Tree tree;
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    checkRefused(serve(context, "/missing.txt"), "missing");
    checkRefused(serve(context, "/docs/missing/"), "missing dir");
}

TEST_CASE("nothing outside the root is served")
{
    Tree tree;
    REQUIRE(fs::exists(tree.base / "secret.txt"));  // the attacks below would find it
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    for (const char* target : {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/a/%2e%2e/%2e%2e/secret.txt",
                               "/docs/../../secret.txt", "/..%2fsecret.txt", "/docs/..%2f..%2fsecret.txt",
                               "/..%5csecret.txt", "/docs\\..\\..\\secret.txt", "/back%5cslash.txt", "/back\\slash.txt", "/..", "/docs/..",
                               "/link-out", "/dir-out/secret.txt", "/dir-out/rootx/file.txt", "/trap/",
                               "/sib"}) {
        checkRefused(serve(context, target), target);
    }
    Request nul;
    CHECK_FALSE(RequestBuilder(nul).setTarget("/secret.txt%00.html"));  // a decoded NUL never reaches a servlet
}

TEST_CASE("symlinks that stay inside the root are served, by openat2 and by the component walk")
{
    Tree tree;
    const int rootFd = ::open(tree.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(rootFd >= 0);
    const std::pair<const char*, const char*> inside[] = {
        {"a.txt", "hello"},          {"link-in", "hello"},          {"rel-in", "hello"},
        {"docs/up-in", "hello"},     {"chain-in", "hello"},         {"dir-in/index.html", "docs index"},
        {"abs-dir-in/index.html", "docs index"}, {"dir-in-dotdot", "hello"}, {"dir-in/up-in", "hello"},
    };
    for (bool openat2 : {true, false}) {
        CAPTURE(openat2);
        for (const auto& [rel, text] : inside) {
            CAPTURE(rel);
            const int fd = detail::openBeneath(rootFd, tree.root.native(), rel, openat2);
            REQUIRE(fd >= 0);
            CHECK(contents(fd, 100) == text);
            ::close(fd);
        }
        const int root = detail::openBeneath(rootFd, tree.root.native(), "", openat2);
        REQUIRE(root >= 0);
        struct stat st {};
        CHECK((::fstat(root, &st) == 0 && S_ISDIR(st.st_mode)));
        ::close(root);
    }
    ::close(rootFd);

    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    for (const auto& [rel, text] : inside) {
        auto res = serve(context, std::string("/") + rel);
        CHECK_MESSAGE(res.status() == 200, rel);
        CHECK_MESSAGE(sent(res) == text, rel);
    }
    CHECK(sent(serve(context, "/dir-in/")) == "docs index");
    CHECK(serve(context, "/dir-in").headers().get("Location") == "/dir-in/");
}

TEST_CASE("symlinks that lead out of the root, loop or pass through a file are refused, by both ways")
{
    Tree tree;
    const int rootFd = ::open(tree.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(rootFd >= 0);
    const std::pair<const char*, int> refused[] = {
        {"link-out", EXDEV},       {"dir-out/secret.txt", EXDEV}, {"trap/index.html", EXDEV},
        {"sib", EXDEV},            {"docs/up-out", EXDEV},        {"abs-dotdot-out", EXDEV},
        {"loop-a", ELOOP},         {"through-file", ENOTDIR},     {"a.txt/x", ENOTDIR},
        {"missing", ENOENT},
    };
    for (bool openat2 : {true, false}) {
        CAPTURE(openat2);
        for (const auto& [rel, error] : refused) {
            CAPTURE(rel);
            errno = 0;
            const int fd = detail::openBeneath(rootFd, tree.root.native(), rel, openat2);
            CHECK(fd == -1);
            CHECK(errno == error);
            if (fd >= 0) ::close(fd);
        }
    }
    ::close(rootFd);

    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    for (const auto& [rel, error] : refused) checkRefused(serve(context, std::string("/") + rel), rel);
}

TEST_CASE("a FIFO in the root is refused without waiting for a writer")
{
    Tree tree;
    REQUIRE(::mkfifo((tree.root / "fifo").c_str(), 0600) == 0);
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    checkRefused(serve(context, "/fifo"), "fifo");  // would hang here if opened blocking
}

TEST_CASE("the response holds the file it checked: renaming or replacing the name later changes nothing")
{
    Tree tree;
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root);
    auto res = serve(context, "/a.txt");
    REQUIRE(res.file());
    fs::remove(tree.root / "a.txt");
    fs::create_symlink(tree.base / "secret.txt", tree.root / "a.txt");
    CHECK(sent(res) == "hello");
    CHECK(res.fileSize() == 5);
    Tree::write(tree.base / "secret.txt", "grown: more than five bytes");
    CHECK(sent(res) == "hello");
}

TEST_CASE("the servlet itself refuses NUL, backslashes and relative paths")
{
    Tree tree;
    auto servlet = detail::makeStaticFileServlet(tree.root, false);
    auto call = [&](std::string servletPath) {
        Request req;
        REQUIRE(RequestBuilder(req).setTarget("/x"));
        RequestBuilder(req).setServletMatch(std::move(servletPath), "", {});
        Response res;
        servlet->service(req, res);
        return res;
    };
    CHECK(call("/a.txt").status() == 200);  // the harness works
    checkRefused(call(std::string("/a.txt\0.html", 12)), "NUL");
    checkRefused(call("/docs\\..\\..\\secret.txt"), "backslash");
    checkRefused(call("/back\\slash.txt"), "backslash in an existing name");
    checkRefused(call("../secret.txt"), "relative");
    checkRefused(call("/../secret.txt"), "dot-dot");
}

TEST_CASE("prefix mounts serve the path info below the root")
{
    Tree tree;
    auto context = std::make_shared<ServletContextHandler>("/app");
    context->addStaticFiles("/static/*", tree.root);

    auto file = serve(*context, "/app/static/a.txt");
    CHECK(file.status() == 200);
    REQUIRE(file.file());
    CHECK(sent(file) == "hello");

    auto index = serve(*context, "/app/static/");
    REQUIRE(index.file());
    CHECK(sent(index) == "<h1>home</h1>");

    CHECK(serve(*context, "/app/static").headers().get("Location") == "/app/static/");
    CHECK(serve(*context, "/app/static/docs").headers().get("Location") == "/app/static/docs/");
    checkRefused(serve(*context, "/app/static/../secret.txt"), "prefix dot-dot");
    checkRefused(serve(*context, "/app/static/%2e%2e/secret.txt"), "prefix encoded dot-dot");
    checkRefused(serve(*context, "/app/static/link-out"), "prefix symlink");
    CHECK(serve(*context, "/app/a.txt").status() == 404);  // only below /static
}

TEST_CASE("the root must be an existing directory, resolved when added")
{
    Tree tree;
    CHECK_THROWS_AS(detail::makeStaticFileServlet(tree.base / "nope", false), std::invalid_argument);
    CHECK_THROWS_AS(detail::makeStaticFileServlet(tree.root / "a.txt", false), std::invalid_argument);
    // A root given through a symlink or with ".." still works: it is canonicalised.
    ServletContextHandler context;
    context.addStaticFiles("/", tree.root / "docs" / "..");
    CHECK(serve(context, "/a.txt").status() == 200);
    checkRefused(serve(context, "/../secret.txt"), "canonical root");
}

}  // TEST_SUITE
