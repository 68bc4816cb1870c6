// The client's message limit (RFC 6455 7.4.1, 10.4): a message over --max-message fails
// the connection with 1009, whether one frame or fragments crossing the limit, and a
// header announcing too much fails before its payload arrives.

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.limits";

const std::vector<std::string> kLimit1000 = {"--max-message", "1000"};

CONFORMANCE_TABLE(limitCases)
{
    CONFORMANCE_ADD(S, "RFC 6455 10.4: a text of exactly --max-message bytes is echoed", [] {
        FakeServer s(kLimit1000);
        s.open();
        s.sendFrame(0x1, letters(1000));
        expectEcho(s, 0x1, letters(1000));
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 7.4.1: a text one byte over --max-message fails with 1009", [] {
        FakeServer s(kLimit1000);
        s.open();
        s.sendFrame(0x1, letters(1001));
        expectFailure(s, 1009);
    });
    CONFORMANCE_ADD(S, "RFC 6455 7.4.1: a binary one byte over --max-message fails with 1009", [] {
        FakeServer s(kLimit1000);
        s.open();
        s.sendFrame(0x2, pattern(1001));
        expectFailure(s, 1009);
    });
    CONFORMANCE_ADD(S, "RFC 6455 7.4.1: fragments crossing --max-message fail with 1009", [] {
        FakeServer s(kLimit1000);
        s.open();
        s.sendFrame(0x1, letters(600), false);
        s.sendFrame(0x0, letters(600), true);
        expectFailure(s, 1009);
    });
    CONFORMANCE_ADD(S, "RFC 6455 10.4: a header announcing 1 MiB over a 1000-byte limit fails before the payload", [] {
        FakeServer s(kLimit1000);
        s.open();
        std::string header = {'\x82', '\x7f', 0, 0, 0, 0, 0, '\x10', 0, 0};  // 64-bit length 2^20, payload never sent
        s.send(header);
        expectFailure(s, 1009);
    });
}

}  // namespace
