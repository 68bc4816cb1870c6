// Ping and pong from the client's side (RFC 6455 5.5.2, 5.5.3, 5.4, 5.5): a ping is
// answered with a pong carrying the same payload, also between the fragments of a message;
// an unsolicited pong is ignored; a control frame over 125 bytes or fragmented fails the
// connection with 1002.

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.pingpong";

CONFORMANCE_TABLE(pingCases)
{
    for (std::size_t size : {std::size_t(0), std::size_t(5), std::size_t(125)}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.5.3: a " + std::to_string(size) + "-byte ping gets a pong with the same payload",
                        [size] {
                            FakeServer s;
                            s.open();
                            s.sendFrame(0x9, pattern(size, 5));
                            expectPong(s, pattern(size, 5));
                            serverCloses(s);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.5.3: three pings in one write get three pongs in order", [] {
        FakeServer s;
        s.open();
        s.send(FakeServer::frame(0x9, "a") + FakeServer::frame(0x9, "b") + FakeServer::frame(0x9, "c"));
        for (const char* p : {"a", "b", "c"}) expectPong(s, p);
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a ping between fragments is answered and the message echoed whole", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "frag", false);
        s.sendFrame(0x9, "in between");
        expectPong(s, "in between");
        s.sendFrame(0x0, "mented", true);
        expectEcho(s, 0x1, "fragmented");
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5.3: an unsolicited pong is ignored", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0xA, "unsolicited");
        s.sendFrame(0x1, "after the pong");
        expectEcho(s, 0x1, "after the pong");
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5: a 126-byte ping fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x9, pattern(126));
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5: a 126-byte pong fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0xA, pattern(126));
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.5: a fragmented ping fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x9, "frag", false);
        s.sendFrame(0x0, "mented", true);
        expectFailure(s, 1002);
    });
}

}  // namespace
