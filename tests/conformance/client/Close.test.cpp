// The closing handshake from the client's side (RFC 6455 5.5.1, 7.1, 7.4). A close from
// the server is echoed (with its code) and the client prints `closed <code>` and exits 0;
// `closed 1005` when the close had no code (7.1.5). Invalid codes and a 1-byte payload
// fail with 1002, a reason that is not UTF-8 with 1007. After the close handshake the
// client sends nothing and waits for the server to close TCP first (7.1.1); frames after
// the server's close are not processed (5.5.1).

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.close";

CONFORMANCE_TABLE(closeCases)
{
    for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1011, 1012, 3000, 4999}) {
        CONFORMANCE_ADD(S, "RFC 6455 7.4: close " + std::to_string(code) + " from the server is echoed and printed",
                        [code] {
                            FakeServer s;
                            s.open();
                            serverCloses(s, code);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.5.1: close 1000 with a reason is echoed", [] {
        FakeServer s;
        s.open();
        serverCloses(s, 1000, "bye \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5.1: close with a 123-byte reason is echoed", [] {
        FakeServer s;
        s.open();
        serverCloses(s, 1000, std::string(123, '*'));
    });
    CONFORMANCE_ADD(S, "RFC 6455 7.1.5: an empty close is answered and printed as closed 1005", [] {
        FakeServer s;
        s.open();
        // The answer has no code to echo: empty, or 1000 (never 1005 on the wire, 7.4.1).
        serverCloses(s, 0, {}, {1000});
    });
    for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        CONFORMANCE_ADD(S, "RFC 6455 7.4.1: close code " + std::to_string(code) + " from the server fails with 1002",
                        [code] {
                            FakeServer s;
                            s.open();
                            s.sendClose(code);
                            expectFailure(s, 1002);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.5.1: a 1-byte close payload fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x8, "\x03");
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5: a close with a 124-byte reason (126-byte payload) fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendClose(1000, std::string(124, '*'));
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5: a fragmented close fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x8, std::string("\x03\xe8", 2), false);
        expectFailure(s, 1002);
    });
    const std::pair<const char*, std::string> badReasons[] = {
        {"a stray continuation", std::string("\x80", 1)},
        {"a surrogate", std::string("ok\xed\xa0\x80", 5)},
        {"byte FF", std::string("\xff", 1)},
    };
    for (const auto& [name, reason] : badReasons) {
        CONFORMANCE_ADD(S, std::string("RFC 6455 8.1: a close reason with ") + name + " fails with 1007",
                        [reason = reason] {
                            FakeServer s;
                            s.open();
                            s.sendClose(1000, reason);
                            expectFailure(s, 1007);
                        });
    }
}

CONFORMANCE_TABLE(closeRuleCases)
{
    CONFORMANCE_ADD(S, "RFC 6455 7.1.1: after the close handshake the client sends nothing and waits for the server's TCP close",
                    [] {
                        FakeServer s;
                        s.open();
                        s.sendFrame(0x9, "ping before close");  // something it could still be tempted to answer
                        expectPong(s, "ping before close");
                        s.sendClose(1000);
                        const auto close = readClose(s);
                        CHECK(close.closeCode() == 1000);
                        CHECK_MESSAGE(s.staysQuiet(300ms),
                                      "the client sent bytes or closed TCP before the server did (7.1.1: the "
                                      "client SHOULD wait for the server to close)");
                        s.closeTcp();
                        expectClosedExit(s, 1000);
                    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5.1: frames after the server's close are not processed", [] {
        FakeServer s;
        s.open();
        s.send(FakeServer::frame(0x8, std::string("\x03\xe8", 2)) + FakeServer::frame(0x1, "after the close") +
               FakeServer::frame(0x9, "ping after the close"));
        const auto close = readClose(s);
        CHECK(close.closeCode() == 1000);
        CHECK_MESSAGE(s.staysQuiet(300ms), "the client answered a frame sent after the close");
        s.closeTcp();
        expectClosedExit(s, 1000);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a close between the fragments of a message is honoured", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "unfinished", false);
        serverCloses(s, 1001);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5.1: a message sent before the close is echoed before the client's close or not at all", [] {
        FakeServer s;
        s.open();
        s.send(FakeServer::frame(0x1, "last words") + FakeServer::frame(0x8, std::string("\x03\xe8", 2)));
        std::vector<Message> before;
        const auto close = readClose(s, &before);
        // Answering the close first is allowed; an echo after it is not (no data after a close).
        CHECK(before.size() <= 1);
        for (const auto& m : before) CHECK(m.payload == "last words");
        CHECK(close.closeCode() == 1000);
        closeAfterClientClose(s);
        expectClosedExit(s, 1000);
    });
    CONFORMANCE_ADD(S, "RFC 6455 7.1.5: a TCP close without a close frame ends the client", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "then nothing");
        expectEcho(s, 0x1, "then nothing");
        s.closeTcp();
        const auto e = s.waitExit(kExit);
        CHECK_MESSAGE(e.exited, "the client did not exit after the server dropped TCP");
        CHECK(e.lastLine() != "closed 1000");
    });
}

}  // namespace
