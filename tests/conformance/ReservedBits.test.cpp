// Section 3: RSV1-3 set without a negotiated extension fail the connection with 1002
// (RFC 6455 5.2: "MUST be 0 unless an extension is negotiated"), on every frame type.
// Frames before the bad one are still processed (Autobahn 3.x).

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.reservedbits";

CONFORMANCE_TABLE(reservedBitCases)
{
    const std::pair<std::uint8_t, const char*> frames[] = {
        {0x1, "text"}, {0x2, "binary"}, {0x9, "ping"}, {0xA, "pong"}, {0x8, "close"}};
    for (int rsv = 1; rsv <= 7; ++rsv) {
        const std::uint8_t bits = static_cast<std::uint8_t>(rsv << 4);
        const std::string name = std::string(rsv & 4 ? "RSV1" : "") + (rsv & 2 ? "RSV2" : "") + (rsv & 1 ? "RSV3" : "");
        for (auto [op, what] : frames) {
            CONFORMANCE_ADD(S, name + " on a " + what + " frame fails with 1002", [op = op, bits] {
                EchoServer s;
                auto c = s.open();
                c.sendFrame(op, op == 0x8 ? std::string("\x03\xe8", 2) : std::string("Hello"), true, true, bits);
                expectClose(c, 1002);
            });
        }
        CONFORMANCE_ADD(S, name + " on a continuation frame fails with 1002", [bits] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(0x1, "Hel", false);
            c.sendFrame(0x0, "lo", true, true, bits);
            expectClose(c, 1002);
        });
    }
    CONFORMANCE_ADD(S, "a text before the RSV frame is echoed and a text after it is not", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x1, "first") + RawClient::buildFrame(0x1, "bad", true, true, 0x20) +
                  RawClient::buildFrame(0x1, "after"));
        std::vector<Frame> before;
        expectClose(c, 1002, &before);
        REQUIRE(before.size() == 1);
        CHECK(before[0].payload == "first");
    });
    CONFORMANCE_ADD(S, "RSV bits are checked from the header before the payload arrives", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(frameHeader(0x81 | 0x10, 1000));  // payload never sent
        expectClose(c, 1002);
    });
}

}  // namespace
