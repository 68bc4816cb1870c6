// The client's opening handshake (RFC 6455 4.1): the request it sends, and the responses
// it must refuse (4.1 "if the server's response is not as expected, the client MUST _Fail
// the WebSocket Connection_"): a status other than 101, a wrong or missing
// Sec-WebSocket-Accept, a missing Upgrade or Connection token, a subprotocol or an
// extension the client did not offer. A refused handshake sends no frame.

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.handshake";

/// A response head from the status line's tail and header lines (each ending in CRLF).
std::string response(const std::string& lines, const std::string& body = {}) { return "HTTP/1.1 " + lines + "\r\n" + body; }

CONFORMANCE_TABLE(requestCases)
{
    CONFORMANCE_ADD(S, "RFC 6455 4.1: the request is a GET of the URL's path and query over HTTP/1.1", [] {
        FakeServer s({}, "/echo/room?x=1&y=two");
        const auto& r = s.readRequest();
        CHECK(r.method == "GET");
        CHECK(r.target == "/echo/room?x=1&y=two");
        CHECK(r.version == "HTTP/1.1");
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: Host names the URL's host and port", [] {
        FakeServer s;
        const auto& r = s.readRequest();
        CHECK(r.header("Host") == "127.0.0.1:" + std::to_string(s.port()));
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: Upgrade holds websocket and Connection holds Upgrade", [] {
        FakeServer s;
        const auto& r = s.readRequest();
        CHECK(r.hasToken("Upgrade", "websocket"));
        CHECK(r.hasToken("Connection", "Upgrade"));
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: Sec-WebSocket-Key is base64 of 16 bytes and Version is 13", [] {
        FakeServer s;
        const auto& r = s.readRequest();
        const auto key = r.header("Sec-WebSocket-Key");
        REQUIRE(key);
        CHECK(key->size() == 24);
        CHECK(base64DecodedSize(*key) == 16);
        CHECK(r.header("Sec-WebSocket-Version") == "13");
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: the key is chosen afresh for each connection", [] {
        std::string first;
        {
            FakeServer s;
            first = s.readRequest().header("Sec-WebSocket-Key").value_or("");
        }
        FakeServer s;
        CHECK(s.readRequest().header("Sec-WebSocket-Key").value_or("") != first);
    });
    CONFORMANCE_ADD(S, "RFC 7692 5: no extension is offered without --deflate", [] {
        FakeServer s;
        CHECK(!s.readRequest().header("Sec-WebSocket-Extensions"));
    });
    CONFORMANCE_ADD(S, "RFC 7692 5: --deflate offers permessage-deflate", [] {
        FakeServer s({"--deflate"});
        const auto offer = s.readRequest().header("Sec-WebSocket-Extensions");
        REQUIRE(offer);
        CHECK(offer->rfind("permessage-deflate", 0) == 0);
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: a correct 101 opens the connection and the client echoes", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "Hello");
        expectEcho(s, 0x1, "Hello");
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: header names and tokens in the 101 match in any case", [] {
        FakeServer s;
        const auto& r = s.readRequest();
        s.send("HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n"
               "sec-websocket-accept: " +
               expectedAccept(r.header("Sec-WebSocket-Key").value_or("")) + "\r\n\r\n");
        s.sendFrame(0x1, "Hello");
        expectEcho(s, 0x1, "Hello");
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: the 101 and the first frame in one write", [] {
        FakeServer s;
        s.readRequest();
        s.send(s.switchingProtocols() + FakeServer::frame(0x1, "right behind the 101"));
        expectEcho(s, 0x1, "right behind the 101");
        serverCloses(s);
    });
}

CONFORMANCE_TABLE(refusedResponseCases)
{
    struct Bad {
        const char* name;
        std::function<std::string(const FakeServer&, const std::string& accept)> head;
        std::vector<std::string> args;
    };
    const std::vector<Bad> bad = {
        {"a 404 with a body", [](auto&, auto&) { return response("404 Not Found\r\nContent-Length: 8\r\n", "not here"); }, {}},
        {"a 200", [](auto&, auto&) { return response("200 OK\r\nContent-Length: 0\r\n"); }, {}},
        {"a 426 naming another version",
         [](auto&, auto&) { return response("426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\nContent-Length: 0\r\n"); },
         {}},
        {"a 101 with a wrong Sec-WebSocket-Accept",
         [](auto&, auto&) {
             return response("101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
         },
         {}},
        {"a 101 without Sec-WebSocket-Accept",
         [](auto&, auto&) { return response("101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"); },
         {}},
        {"a 101 without Upgrade",
         [](auto&, auto& a) { return response("101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n"); },
         {}},
        {"a 101 upgrading to another protocol",
         [](auto&, auto& a) {
             return response("101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n");
         },
         {}},
        {"a 101 without Connection",
         [](auto&, auto& a) { return response("101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + a + "\r\n"); },
         {}},
        {"a 101 with Connection keep-alive only",
         [](auto&, auto& a) {
             return response("101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " +
                             a + "\r\n");
         },
         {}},
        {"a 101 with a subprotocol not offered",
         [](const FakeServer& s, auto&) { return s.switchingProtocols("Sec-WebSocket-Protocol: chat\r\n"); }, {}},
        {"a 101 with permessage-deflate not offered",
         [](const FakeServer& s, auto&) { return s.switchingProtocols("Sec-WebSocket-Extensions: permessage-deflate\r\n"); },
         {}},
        {"a 101 with an unknown extension when deflate was offered",
         [](const FakeServer& s, auto&) { return s.switchingProtocols("Sec-WebSocket-Extensions: x-webkit-unknown\r\n"); },
         {"--deflate"}},
        {"a 101 with HTTP/1.0",
         [](const FakeServer& s, auto&) {
             auto head = s.switchingProtocols();
             head.replace(0, 8, "HTTP/1.0");
             return head;
         },
         {}},
    };
    for (const auto& b : bad) {
        CONFORMANCE_ADD(S, std::string("RFC 6455 4.1: ") + b.name + " fails the connection without a frame", [b] {
            FakeServer s(b.args);
            const auto& r = s.readRequest();
            // A frame right behind the refused response must not be echoed either.
            s.send(b.head(s, expectedAccept(r.header("Sec-WebSocket-Key").value_or(""))) +
                   FakeServer::frame(0x1, "not an echo"));
            expectHandshakeFailure(s);
        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 4.1: the server closing TCP before answering fails the connection", [] {
        FakeServer s;
        s.readRequest();
        s.closeTcp();
        expectFailedExit(s);
    });
    CONFORMANCE_ADD(S, "usage: an unknown option exits 2", [] {
        FakeServer s({"--no-such-option"});
        const auto e = s.waitExit(kExit);
        CHECK(e.exited);
        CHECK_MESSAGE(e.code == 2, "exit code " << e.code << "; stderr: " << e.err);
    });
    CONFORMANCE_ADD(S, "RFC 6455 4.1: a refused TCP connect fails with exit 1", [] {
        FakeServer s({}, "/", FakeServer::Listen::No);
        expectFailedExit(s);
    });
}

}  // namespace
