// Response splitting over a real server: an application copies a percent-decoded query or
// path parameter carrying %0d%0a into a response header; the request gets 500 and no
// injected line reaches the wire.

#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wharf;
using namespace wharf::test;

namespace {

/// Copies the query parameter "v" into a cookie, as a careless application would.
class CookieServlet : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        response.addHeader("Set-Cookie", "v=" + request.queryParameter("v").value_or(""));
        response.setBody("cookie set");
    }
};

/// Answers with the status named by the query parameter "code", and a body that would
/// read as a response of its own if the status line were taken as an interim one.
class StatusServlet : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override
    {
        response.setStatus(std::stoi(request.queryParameter("code").value_or("200")));
        response.setBody("HTTP/1.1 200 OK\r\nSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n");
    }
};

/// No header line of `r` carries the injected cookie, and its body is not the injected one.
void checkNothingInjected(const HttpResponse& r)
{
    for (const auto& [name, value] : r.headers) {
        CAPTURE(name);
        CHECK(value.find("evil") == std::string::npos);
        CHECK(name.find("evil") == std::string::npos);
    }
    CHECK(r.body.find("<html>") == std::string::npos);
}

constexpr std::string_view injection = "x%0d%0aSet-Cookie:%20evil=1%0d%0a%0d%0a<html>";

}  // namespace

TEST_SUITE("http")
{
    TEST_CASE("a servlet that copies a CR LF query parameter into Set-Cookie answers 500, nothing injected")
    {
        TestServer server([](ServletContextHandler& c) { c.addServlet("/cookie", std::make_shared<CookieServlet>()); });
        RawClient client(server.port());
        const auto r = client.get("/cookie?v=" + std::string(injection));
        CHECK(r.status == 500);
        checkNothingInjected(r);
        CHECK(!r.header("Set-Cookie"));
        // The connection still serves a clean request.
        const auto ok = client.get("/cookie?v=plain");
        CHECK(ok.status == 200);
        CHECK(ok.header("Set-Cookie") == "v=plain");
    }

    TEST_CASE("a WebSocket creator that copies a CR LF path or query parameter into a header answers 500")
    {
        TestServer server([](ServletContextHandler& context) {
            context.addWebSocket("/rooms/{room}", [](WebSocketServletFactory& f) {
                f.addMapping("/", [](const UpgradeRequest& req, UpgradeResponse& res) {
                    res.addHeader("X-Room", req.pathParameter("room").value_or(""));
                    res.addHeader("X-User", req.queryParameter("user").value_or(""));
                    return std::make_shared<EchoListener>();
                });
            });
        });
        SUBCASE("path parameter")
        {
            const auto r = RawClient(server.port()).handshake("/rooms/" + std::string(injection));
            CHECK(r.status == 500);
            checkNothingInjected(r);
        }
        SUBCASE("query parameter")
        {
            const auto r = RawClient(server.port()).handshake("/rooms/lobby?user=" + std::string(injection));
            CHECK(r.status == 500);
            checkNothingInjected(r);
        }
        SUBCASE("clean parameters still upgrade")
        {
            const auto r = RawClient(server.port()).handshake("/rooms/lobby?user=alice");
            CHECK(r.status == 101);
            CHECK(r.header("X-Room") == "lobby");
            CHECK(r.header("X-User") == "alice");
        }
    }

    TEST_CASE("a status that cannot be a final response line answers 500 and the server keeps serving")
    {
        // Beast refuses to write a status above 999 (it throws from the writer), a status
        // below 100 is not three digits, and a 1xx status is interim: the client would read
        // the body as the real response.
        TestServer server([](ServletContextHandler& c) { c.addServlet("/status", std::make_shared<StatusServlet>()); });
        for (const std::string code : {"1000", "-1", "42", "100", "103", "101"}) {
            CAPTURE(code);
            RawClient client(server.port());
            const auto r = client.get("/status?code=" + code);
            CHECK(r.status == 500);
            checkNothingInjected(r);
            CHECK(client.get("/status?code=201").status == 201);
        }
    }
}
