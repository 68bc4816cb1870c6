// WebSocketServletFactory::setAllowedOrigins patterns and setAllowMissingOrigin, as the
// handshake's status shows them (docs/security.md, "Origins").
#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace wharf;
using namespace wharf::test;

namespace {

TestServer originServer(std::vector<std::string> patterns, bool allowMissing = false)
{
    return TestServer([&](ServletContextHandler& context) {
        context.addWebSocket("/ws", [&](WebSocketServletFactory& f) {
            f.setAllowedOrigins(patterns);
            f.setAllowMissingOrigin(allowMissing);
            f.addMapping<EchoListener>("/");
        });
    });
}

int status(const TestServer& server, const std::string& origin)
{
    return RawClient(server.port()).handshake("/ws", origin.empty() ? "" : "Origin: " + origin + "\r\n").status;
}

}  // namespace

TEST_SUITE("origins") {

TEST_CASE("scheme and host compare without regard to case, and a missing port is the scheme's default")
{
    auto server = originServer({"https://Chat.Example.com"});
    CHECK(status(server, "https://chat.example.com") == 101);
    CHECK(status(server, "HTTPS://CHAT.EXAMPLE.COM") == 101);
    CHECK(status(server, "https://chat.example.com:443") == 101);
    CHECK(status(server, "https://chat.example.com:8443") == 403);
    CHECK(status(server, "http://chat.example.com") == 403);
    CHECK(status(server, "https://chat.example.com.evil.test") == 403);
}

TEST_CASE("port * is any port, so a port-0 server can allow its own pages")
{
    auto server = originServer({"http://127.0.0.1:*", "http://localhost:*"});
    const auto own = "http://127.0.0.1:" + std::to_string(server.port());
    CHECK(status(server, own) == 101);
    CHECK(status(server, "http://localhost") == 101);
    CHECK(status(server, "http://LocalHost:3000") == 101);
    CHECK(status(server, "https://localhost:3000") == 403);
    CHECK(status(server, "http://127.0.0.2:3000") == 403);
}

TEST_CASE("*.example.com is any subdomain, not example.com itself")
{
    auto server = originServer({"https://*.example.com"});
    CHECK(status(server, "https://a.example.com") == 101);
    CHECK(status(server, "https://a.b.Example.com") == 101);
    CHECK(status(server, "https://example.com") == 403);
    CHECK(status(server, "https://evilexample.com") == 403);
    CHECK(status(server, "https://a.example.com.evil.test") == 403);
}

TEST_CASE("requests without an Origin are refused unless allowed, and null only by the pattern null")
{
    auto strict = originServer({"https://chat.example.com"});
    const auto refused = RawClient(strict.port()).handshake("/ws");
    CHECK(refused.status == 403);
    CHECK(refused.body == "Origin header required");
    CHECK(status(strict, "null") == 403);
    CHECK(status(strict, "not an origin") == 403);
    auto lenient = originServer({"https://chat.example.com", "null"}, true);
    CHECK(status(lenient, "") == 101);
    CHECK(status(lenient, "null") == 101);
    auto any = originServer({});
    CHECK(status(any, "") == 101);
    CHECK(status(any, "https://anywhere.test") == 101);
}

TEST_CASE("a malformed pattern throws, naming it")
{
    WebSocketServletFactory f;
    for (const char* bad : {"chat.example.com", "https://", "https://a.test/room", "https://a.test:99999",
                            "https://user@a.test", "ftp://a.test", ""}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(f.setAllowedOrigins({bad}), std::invalid_argument);
    }
    CHECK_NOTHROW(f.setAllowedOrigins({"https://a.test/", "http://[::1]:*", "ftp://a.test:21", "null"}));
}

}  // TEST_SUITE
