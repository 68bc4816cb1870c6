// Fragmentation from the client's side (RFC 6455 5.4): a message in fragments is one
// message (echoed with the same content, however the client frames its echo); a
// continuation without a start and a new data frame inside a fragmented message fail
// the connection with 1002.

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.fragmentation";

/// `payload` as `parts` frames of a message with `opcode` (the last ones may be empty).
std::string fragments(std::uint8_t opcode, const std::string& payload, std::size_t parts)
{
    std::string bytes;
    const std::size_t step = (payload.size() + parts - 1) / parts;
    for (std::size_t i = 0; i < parts; ++i)
        bytes += FakeServer::frame(i == 0 ? opcode : 0x0, payload.substr(std::min(i * step, payload.size()), step),
                                   i + 1 == parts);
    return bytes;
}

CONFORMANCE_TABLE(fragmentCases)
{
    for (std::size_t parts : {2, 3, 10, 100}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.4: a text in " + std::to_string(parts) + " fragments is echoed as one message",
                        [parts] {
                            FakeServer s;
                            s.open();
                            s.send(fragments(0x1, letters(1000), parts));
                            expectEcho(s, 0x1, letters(1000));
                            serverCloses(s);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a binary in 5 fragments is echoed as one message", [] {
        FakeServer s;
        s.open();
        s.send(fragments(0x2, pattern(5000), 5));
        expectEcho(s, 0x2, pattern(5000));
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: empty fragments around the payload", [] {
        FakeServer s;
        s.open();
        s.send(FakeServer::frame(0x1, "", false) + FakeServer::frame(0x0, "middle", false) +
               FakeServer::frame(0x0, "", true));
        expectEcho(s, 0x1, "middle");
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: fragments in separate writes", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "one ", false);
        s.sendFrame(0x0, "two ", false);
        s.sendFrame(0x0, "three", true);
        expectEcho(s, 0x1, "one two three");
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a continuation without a start fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x0, "stray", true);
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a non-final continuation without a start fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x0, "stray", false);
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a text inside a fragmented text fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "frag", false);
        s.sendFrame(0x1, "nested", true);
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.4: a binary inside a fragmented text fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "frag", false);
        s.sendFrame(0x2, "nested", false);
        expectFailure(s, 1002);
    });
}

}  // namespace
