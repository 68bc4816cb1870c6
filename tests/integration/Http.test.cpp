// The HTTP core through a real Server on loopback: routing, keep-alive, limits,
// timeouts, static files, start-up errors.

#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

using namespace wharf;
using namespace wharf::test;
namespace fs = std::filesystem;

namespace {

class HelloServlet : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        response.setContentType("text/plain");
        response.setBody("hello " + request.queryParameter("name").value_or("world") + " from " + request.pathInContext());
    }
    void doPost(Request& request, Response& response) override { response.setBody("got " + std::to_string(request.body().size())); }
};

class ThrowingServlet : public HttpServlet {
public:
    void doGet(Request&, Response&) override { throw std::runtime_error("servlet bug"); }
};

/// A static root with an index page, and a secret file just outside it.
struct StaticTree {
    fs::path base = fs::temp_directory_path() / ("wharf-http-test-" + std::to_string(::getpid()));
    fs::path root = base / "public";
    StaticTree()
    {
        fs::create_directories(root / "sub");
        std::ofstream(root / "index.html") << "<h1>home</h1>";
        std::ofstream(root / "sub" / "page.css") << "body{}";
        std::ofstream(base / "secret.txt") << "TOP SECRET";
        fs::create_symlink(base / "secret.txt", root / "link-out.txt");
    }
    ~StaticTree() { fs::remove_all(base); }
};

}  // namespace

TEST_SUITE("http")
{
    TEST_CASE("servlets answer, keep-alive carries several requests, unknown paths get 404")
    {
        TestServer server([](ServletContextHandler& c) { c.addServlet("/hello/*", std::make_shared<HelloServlet>()); });
        RawClient client(server.port());
        auto r = client.get("/hello/there?name=ada");
        CHECK(r.status == 200);
        CHECK(r.body == "hello ada from /hello/there");
        CHECK(r.header("Content-Type") == "text/plain");
        r = client.get("/hello");  // same connection
        CHECK(r.status == 200);
        CHECK(r.body == "hello world from /hello");
        r = client.get("/nothing-here");
        CHECK(r.status == 404);
        client.sendRaw("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde");
        r = client.readResponse();
        CHECK(r.status == 200);
        CHECK(r.body == "got 5");
        client.sendRaw("PUT /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        r = client.readResponse();
        CHECK(r.status == 405);
        CHECK(r.header("Allow") == "GET, HEAD, POST, OPTIONS");
        client.sendRaw("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        r = client.readResponse();
        CHECK(r.status == 200);
        CHECK(client.waitForEof());
    }

    TEST_CASE("HEAD sends the headers of GET without the body")
    {
        TestServer server([](ServletContextHandler& c) { c.addServlet("/hello", std::make_shared<HelloServlet>()); });
        RawClient client(server.port());
        client.sendRaw("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        const auto r = client.readResponse(5s, true);
        CHECK(r.status == 200);
        CHECK(r.header("Content-Length") == std::to_string(std::string("hello world from /hello").size()));
        // No body follows: the next response on the connection parses cleanly.
        auto next = client.get("/hello");
        CHECK(next.body == "hello world from /hello");
    }

    TEST_CASE("a throwing servlet gets 500 and the server keeps serving")
    {
        TestServer server([](ServletContextHandler& c) {
            c.addServlet("/bug", std::make_shared<ThrowingServlet>());
            c.addServlet("/hello", std::make_shared<HelloServlet>());
        });
        CHECK(RawClient(server.port()).get("/bug").status == 500);
        CHECK(RawClient(server.port()).get("/hello").status == 200);
    }

    TEST_CASE("limits: 431 for large headers, 413 for large bodies, 400 for garbage")
    {
        HttpLimits limits;
        limits.maxHeaderSize = 1024;
        limits.maxBodySize = 100;
        TestServer server([](ServletContextHandler& c) { c.addServlet("/hello", std::make_shared<HelloServlet>()); }, 2,
                          [&](Server& s) { s.setHttpLimits(limits); });
        {
            RawClient client(server.port());
            client.sendRaw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
            CHECK(client.readResponse().status == 431);
            CHECK(client.waitForEof());
        }
        {
            RawClient client(server.port());
            client.sendRaw("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
            CHECK(client.readResponse().status == 413);
            CHECK(client.waitForEof());
        }
        {
            RawClient client(server.port());
            client.sendRaw("THIS IS NOT HTTP\r\n\r\n");
            CHECK(client.readResponse().status == 400);
            CHECK(client.waitForEof());
        }
        {
            RawClient client(server.port());
            client.sendRaw("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
            CHECK(client.readResponse().status == 400);
        }
    }

    TEST_CASE("a request that arrives too slowly gets 408 and the connection is closed")
    {
        HttpLimits limits;
        limits.requestTimeout = std::chrono::milliseconds(300);
        limits.keepAliveTimeout = std::chrono::milliseconds(300);
        TestServer server([](ServletContextHandler& c) { c.addServlet("/hello", std::make_shared<HelloServlet>()); }, 2,
                          [&](Server& s) { s.setHttpLimits(limits); });
        RawClient slow(server.port());
        slow.sendRaw("GET /hello HTTP/1.1\r\nHost: x\r\n");  // never finishes
        RawClient fast(server.port());
        CHECK(fast.get("/hello").status == 200);  // others are served meanwhile
        CHECK(slow.readResponse(std::chrono::seconds(5)).status == 408);
        CHECK(slow.waitForEof());
        // An idle keep-alive connection is closed after the keep-alive timeout, silently.
        CHECK(fast.waitForEof(std::chrono::seconds(5)));
    }

    TEST_CASE("static files: content, types, HEAD, 304 and no way out of the root")
    {
        StaticTree tree;
        TestServer server([&](ServletContextHandler& c) { c.addStaticFiles("/", tree.root); });
        RawClient client(server.port());
        auto r = client.get("/");
        CHECK(r.status == 200);
        CHECK(r.body == "<h1>home</h1>");
        CHECK(r.header("Content-Type").value_or("").rfind("text/html", 0) == 0);
        const auto etag = r.header("ETag");
        REQUIRE(etag);
        r = client.get("/", "If-None-Match: " + *etag + "\r\n");
        CHECK(r.status == 304);
        CHECK(r.body.empty());
        r = client.get("/sub/page.css");
        CHECK(r.status == 200);
        CHECK(r.header("Content-Type").value_or("").rfind("text/css", 0) == 0);
        client.sendRaw("HEAD /sub/page.css HTTP/1.1\r\nHost: x\r\n\r\n");
        r = client.readResponse(5s, true);
        CHECK(r.status == 200);
        CHECK(r.header("Content-Length") == "6");
        CHECK(client.get("/missing.html").status == 404);
        for (const char* attack : {"/../secret.txt", "/%2e%2e/secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
                                   "/..%2fsecret.txt", "/sub/..%5c..%5csecret.txt", "/link-out.txt",
                                   "/%2e%2e%2fsecret.txt"}) {
            CAPTURE(attack);
            RawClient c(server.port());
            c.sendRaw(std::string("GET ") + attack + " HTTP/1.1\r\nHost: x\r\n\r\n");
            const auto a = c.readResponse();
            CHECK(a.status >= 400);
            CHECK(a.body.find("TOP SECRET") == std::string::npos);
        }
    }

    TEST_CASE("contexts: the longest context path wins")
    {
        auto app = std::make_shared<ServletContextHandler>("/app");
        app->addServlet("/hello", std::make_shared<HelloServlet>());
        auto root = std::make_shared<ServletContextHandler>("/");
        root->addServlet("/hello", std::make_shared<HelloServlet>());
        auto contexts = std::make_shared<ContextHandlerCollection>();
        contexts->addHandler(root);
        contexts->addHandler(app);
        Server server;
        server.addConnector({"127.0.0.1", 0, std::nullopt});
        server.setThreads(1);
        server.setHandler(contexts);
        server.start();
        RawClient client(server.port());
        CHECK(client.get("/app/hello").body == "hello world from /hello");
        CHECK(client.get("/hello").body == "hello world from /hello");
        CHECK(client.get("/apple/hello").status == 404);
        server.stop();
    }

    TEST_CASE("start() fails clearly when the port is taken, and join() returns after stop()")
    {
        Server first;
        first.addConnector({"127.0.0.1", 0, std::nullopt});
        first.setThreads(1);
        first.setHandler(std::make_shared<HandlerList>());
        first.start();
        Server second;
        second.addConnector({"127.0.0.1", first.port(), std::nullopt});
        second.setHandler(std::make_shared<HandlerList>());
        std::string message;
        try {
            second.start();
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        CHECK(message == fmt::format("port {} on 127.0.0.1 is already in use (EADDRINUSE)", first.port()));
        CHECK_FALSE(second.isRunning());
        std::thread stopper([&] { first.stop(); });
        first.join();  // returns once stopped
        stopper.join();
        CHECK_FALSE(first.isRunning());
    }

    TEST_CASE("request targets: absolute form is routed by its path; Host is required once")
    {
        TestServer server([](ServletContextHandler& c) { c.addServlet("/hello/*", std::make_shared<HelloServlet>()); });
        RawClient client(server.port());
        client.sendRaw("GET http://example.test:8080/hello/abs?name=x HTTP/1.1\r\nHost: example.test:8080\r\n\r\n");
        auto r = client.readResponse();
        CHECK(r.status == 200);
        CHECK(r.body == "hello x from /hello/abs");
        {
            RawClient noHost(server.port());
            noHost.sendRaw("GET /hello HTTP/1.1\r\n\r\n");
            r = noHost.readResponse();
            CHECK(r.status == 400);
            CHECK(r.body.find("Host") != std::string::npos);
        }
        {
            RawClient twoHosts(server.port());
            twoHosts.sendRaw("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
            CHECK(twoHosts.readResponse().status == 400);
        }
        RawClient http10(server.port());
        http10.sendRaw("GET /hello HTTP/1.0\r\n\r\n");  // HTTP/1.0 needs no Host
        CHECK(http10.readResponse().status == 200);
    }
}
