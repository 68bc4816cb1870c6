// Section 10: the opening handshake (RFC 6455 4.1, 4.2). Malformed requests get 400
// (4.2.1/4.2.2), a version other than 13 gets 426 with "Sec-WebSocket-Version: 13" (4.4),
// header names match in any case (RFC 9110 5.1), Connection is a token list, and the
// subprotocol answered is one the client offered (4.2.2 /subprotocol/).

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.handshake";

const std::string kKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const std::string kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

HttpResponse send(EchoServer& s, const std::string& request)
{
    RawClient c(s.port());
    c.sendRaw(request);
    return c.readResponse(kWait);
}

std::string request(const std::string& method, const std::string& headers)
{
    return method + " /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
}

/// Picks the first of the offered subprotocols we support.
class ProtocolServer {
public:
    ProtocolServer()
        : server([](ServletContextHandler& context) {
              context.addWebSocket("/p", [](WebSocketServletFactory& f) {
                  f.addMapping("/", [](const UpgradeRequest& req, UpgradeResponse& res) {
                      for (const char* p : {"chat.v2", "chat.v1"})
                          if (req.hasSubprotocol(p)) {
                              res.setAcceptedSubprotocol(p);
                              break;
                          }
                      return std::make_shared<EchoListener>();
                  });
              });
              context.addWebSocket("/rogue", [](WebSocketServletFactory& f) {
                  f.addMapping("/", [](const UpgradeRequest&, UpgradeResponse& res) {
                      res.setAcceptedSubprotocol("never.offered");
                      return std::make_shared<EchoListener>();
                  });
              });
          }, serverThreads())
    {
    }
    TestServer server;
};

CONFORMANCE_TABLE(handshakeCases)
{
    struct Bad {
        const char* name;
        std::string request;
        int status;
    };
    const std::string up = "Upgrade: websocket\r\n", conn = "Connection: Upgrade\r\n", ver = "Sec-WebSocket-Version: 13\r\n";
    const std::vector<Bad> bad = {
        {"missing Upgrade", request("GET", conn + kKey + ver), 400},
        {"Upgrade h2c", request("GET", "Upgrade: h2c\r\n" + conn + kKey + ver), 400},
        {"Upgrade websockets (not the token)", request("GET", "Upgrade: websockets\r\n" + conn + kKey + ver), 400},
        {"missing Connection", request("GET", up + kKey + ver), 400},
        {"Connection keep-alive only", request("GET", up + "Connection: keep-alive\r\n" + kKey + ver), 400},
        {"Connection close", request("GET", up + "Connection: close\r\n" + kKey + ver), 400},
        {"missing Sec-WebSocket-Key", request("GET", up + conn + ver), 400},
        {"empty Sec-WebSocket-Key", request("GET", up + conn + "Sec-WebSocket-Key: \r\n" + ver), 400},
        {"key decoding to 15 bytes", request("GET", up + conn + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n" + ver), 400},
        {"key decoding to 17 bytes",
         request("GET", up + conn + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n" + ver), 400},
        {"key not base64", request("GET", up + conn + "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" + ver), 400},
        {"key as plain text", request("GET", up + conn + "Sec-WebSocket-Key: hello\r\n" + ver), 400},
        {"two keys", request("GET", up + conn + kKey + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" + ver), 400},
        {"POST", request("POST", up + conn + kKey + ver + "Content-Length: 0\r\n"), 400},
        {"PUT", request("PUT", up + conn + kKey + ver + "Content-Length: 0\r\n"), 400},
        {"HTTP/1.0", "GET /echo HTTP/1.0\r\nHost: 127.0.0.1\r\n" + up + conn + kKey + ver + "\r\n", 400},
        {"version 8", request("GET", up + conn + kKey + "Sec-WebSocket-Version: 8\r\n"), 426},
        {"version 12", request("GET", up + conn + kKey + "Sec-WebSocket-Version: 12\r\n"), 426},
        {"version 14", request("GET", up + conn + kKey + "Sec-WebSocket-Version: 14\r\n"), 426},
        {"version abc", request("GET", up + conn + kKey + "Sec-WebSocket-Version: abc\r\n"), 426},
        {"missing version", request("GET", up + conn + kKey), 426},
    };
    for (const auto& row : bad) {
        CONFORMANCE_ADD(S, std::string("bad handshake: ") + row.name + " gets " + std::to_string(row.status),
                        [req = row.request, status = row.status]  {
                            EchoServer s;
                            RawClient c(s.port());
                            c.sendRaw(req);
                            const auto r = c.readResponse(kWait);
                            CHECK(r.status == status);
                            CHECK(!r.header("Sec-WebSocket-Accept"));
                            if (status == 426) CHECK(r.header("Sec-WebSocket-Version").value_or("") == "13");
                        });
    }
    struct Good {
        const char* name;
        std::string headers;
    };
    const std::vector<Good> good = {
        {"canonical", up + conn + kKey + ver},
        {"lower-case header names",
         "upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "sec-websocket-version: 13\r\n"},
        {"upper-case header names",
         "UPGRADE: websocket\r\nCONNECTION: Upgrade\r\nSEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "SEC-WEBSOCKET-VERSION: 13\r\n"},
        {"Upgrade value in mixed case", "Upgrade: WebSocket\r\n" + conn + kKey + ver},
        {"Connection keep-alive and Upgrade", up + "Connection: keep-alive, Upgrade\r\n" + kKey + ver},
        {"Connection upgrade in lower case", up + "Connection: upgrade\r\n" + kKey + ver},
        {"Connection split over two header lines", up + "Connection: keep-alive\r\nConnection: Upgrade\r\n" + kKey + ver},
        {"extra spaces around values", "Upgrade:   websocket  \r\nConnection:  Upgrade \r\n" + kKey + ver},
        {"Origin and unknown headers", up + conn + kKey + ver + "Origin: http://example.test\r\nX-Extra: 1\r\n"},
        {"unknown extension offered", up + conn + kKey + ver + "Sec-WebSocket-Extensions: x-webkit-foo\r\n"},
    };
    for (const auto& row : good) {
        CONFORMANCE_ADD(S, std::string("good handshake: ") + row.name + " gets 101 and works", [h = row.headers] {
            EchoServer s;
            RawClient c(s.port());
            c.sendRaw(request("GET", h));
            const auto r = c.readResponse(kWait);
            REQUIRE(r.status == 101);
            CHECK(r.header("Sec-WebSocket-Accept").value_or("") == kAccept);
            CHECK(r.header("Upgrade").value_or("") == "websocket");
            CHECK(r.header("Connection").value_or("") == "Upgrade");
            CHECK(!r.header("Sec-WebSocket-Extensions"));
            CHECK(!r.header("Sec-WebSocket-Protocol"));
            expectHealthy(c);
        });
    }
    CONFORMANCE_ADD(S, "the accept key of another nonce is computed per RFC 6455 4.2.2", [] {
        EchoServer s;
        RawClient c(s.port());
        c.sendRaw(request("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                                 "x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n"));
        const auto r = c.readResponse(kWait);
        REQUIRE(r.status == 101);
        CHECK(r.header("Sec-WebSocket-Accept").value_or("") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    });
    const std::pair<const char*, std::pair<std::string, std::string>> protocols[] = {
        {"one supported offered", {"Sec-WebSocket-Protocol: chat.v1\r\n", "chat.v1"}},
        {"server preference among offered", {"Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n", "chat.v2"}},
        {"offered over two header lines",
         {"Sec-WebSocket-Protocol: other\r\nSec-WebSocket-Protocol: chat.v1\r\n", "chat.v1"}},
        {"none supported offered", {"Sec-WebSocket-Protocol: mqtt, soap\r\n", ""}},
        {"nothing offered", {"", ""}},
        {"case differs (tokens are case-sensitive)", {"Sec-WebSocket-Protocol: CHAT.V1\r\n", ""}},
    };
    for (const auto& [name, row] : protocols) {
        CONFORMANCE_ADD(S, std::string("subprotocol: ") + name, [offer = row.first, expected = row.second] {
            ProtocolServer s;
            RawClient c(s.server.port());
            const auto r = c.handshake("/p", offer);
            REQUIRE(r.status == 101);
            if (expected.empty()) CHECK(!r.header("Sec-WebSocket-Protocol"));
            else CHECK(r.header("Sec-WebSocket-Protocol").value_or("") == expected);
            expectHealthy(c);
        });
    }
    CONFORMANCE_ADD(S, "subprotocol: a creator choosing one never offered does not upgrade", [] {
        ProtocolServer s;
        RawClient c(s.server.port());
        const auto r = c.handshake("/rogue", "Sec-WebSocket-Protocol: chat.v1\r\n");
        CHECK(r.status == 500);
        CHECK(!r.header("Sec-WebSocket-Protocol"));
        CHECK(!r.header("Sec-WebSocket-Accept"));
    });
    CONFORMANCE_ADD(S, "frames sent right behind the handshake request are processed", [up, conn, ver] {
        EchoServer s;
        RawClient c(s.port());
        c.sendRaw(request("GET", up + conn + kKey + ver) + RawClient::buildFrame(0x1, "early"));
        REQUIRE(c.readResponse(kWait).status == 101);
        expectEcho(c, 0x1, "early");
        closeNormally(c);
    });
}

}  // namespace
