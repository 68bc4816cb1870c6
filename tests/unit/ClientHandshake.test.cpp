#include "client/ClientHandshake.hpp"

#include "websocket/Http11Handshake.hpp"

#include <doctest/doctest.h>

using namespace wharf;
using namespace wharf::detail;

TEST_SUITE("client")
{
    TEST_CASE("parseWsUri takes ws and wss URIs with host, port, path and query")
    {
        auto u = parseWsUri("ws://example.com/chat?room=1");
        REQUIRE(u);
        CHECK_FALSE(u->secure);
        CHECK(u->host == "example.com");
        CHECK(u->port == 80);
        CHECK(u->target == "/chat?room=1");
        CHECK(hostHeader(*u) == "example.com");

        u = parseWsUri("WSS://[::1]:8443");
        REQUIRE(u);
        CHECK(u->secure);
        CHECK(u->host == "::1");
        CHECK(u->port == 8443);
        CHECK(u->target == "/");
        CHECK(hostHeader(*u) == "[::1]:8443");

        u = parseWsUri("ws://h:9001?x");
        REQUIRE(u);
        CHECK(u->target == "/?x");
        CHECK(hostHeader(*u) == "h:9001");

        for (const char* bad : {"http://h/", "ws://", "ws://h:/", "ws://h:0/", "ws://h:65536/", "ws://h/#frag",
                                "ws://user@h/", "ws://[::1/", "ws://h h/"}) {
            CAPTURE(bad);
            CHECK_FALSE(parseWsUri(bad));
        }
    }

    TEST_CASE("the upgrade request carries the key, version, offers and extra fields")
    {
        ClientUpgradeRequest request;
        request.subprotocols = {"a", "b"};
        request.cookies = {{"s", "1"}, {"t", "2"}};
        request.origin = "https://o.example";
        request.headers.add("Authorization", "Bearer x");
        WebSocketPolicy policy;
        policy.deflate.enabled = true;
        policy.deflate.windowBits = 12;
        const auto offer = makeOffer(request, policy);
        CHECK(offer.key.size() == 24);
        CHECK(makeOffer(request, policy).key != offer.key);  // a fresh nonce each time
        const auto headers = upgradeHeaders(*parseWsUri("ws://h:81/p"), request, offer);
        CHECK(headers.get("Host") == "h:81");
        CHECK(headers.get("Sec-WebSocket-Version") == "13");
        CHECK(headers.get("Sec-WebSocket-Protocol") == "a, b");
        CHECK(headers.get("Sec-WebSocket-Extensions") == "permessage-deflate; client_max_window_bits=12");
        CHECK(headers.get("Cookie") == "s=1; t=2");
        CHECK(headers.get("Origin") == "https://o.example");
        CHECK(headers.get("Authorization") == "Bearer x");
        CHECK(serializeRequest("/p", headers).starts_with("GET /p HTTP/1.1\r\nHost: h:81\r\n"));

        request.headers.add("sec-websocket-key", "x");
        CHECK_THROWS_AS(upgradeHeaders(*parseWsUri("ws://h/"), request, offer), std::invalid_argument);
    }

    TEST_CASE("checkUpgradeResponse applies RFC 6455 4.1")
    {
        ClientOffer offer;
        offer.key = "dGhlIHNhbXBsZSBub25jZQ==";
        offer.subprotocols = {"chat"};
        Headers ok;
        ok.add("Upgrade", "WebSocket");
        ok.add("Connection", "keep-alive, Upgrade");
        ok.add("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        CHECK(checkUpgradeResponse(101, ok, offer).error == Errc{});
        CHECK(checkUpgradeResponse(200, ok, offer).error == Errc::UpgradeRejected);

        auto h = ok;
        h.set("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        CHECK(checkUpgradeResponse(101, h, offer).error == Errc::BadAcceptKey);
        h = ok;
        h.erase("Connection");
        CHECK(checkUpgradeResponse(101, h, offer).error == Errc::MissingUpgradeHeaders);
        h = ok;
        h.add("Sec-WebSocket-Protocol", "chat");
        const auto chosen = checkUpgradeResponse(101, h, offer);
        CHECK(chosen.error == Errc{});
        CHECK(chosen.subprotocol == "chat");
        h.set("Sec-WebSocket-Protocol", "other");
        CHECK(checkUpgradeResponse(101, h, offer).error == Errc::UnexpectedSubprotocol);
        h = ok;
        h.add("Sec-WebSocket-Extensions", "permessage-deflate");
        CHECK(checkUpgradeResponse(101, h, offer).error == Errc::UnexpectedExtension);
        offer.deflate = DeflateOffer{};
        const auto deflate = checkUpgradeResponse(101, h, offer);
        CHECK(deflate.error == Errc{});
        CHECK(deflate.deflate.has_value());
        h.set("Sec-WebSocket-Extensions", "permessage-deflate; x-unknown");
        CHECK(checkUpgradeResponse(101, h, offer).error == Errc::UnexpectedExtension);
    }
}
