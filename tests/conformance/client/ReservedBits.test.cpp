// Reserved bits, reserved opcodes and masking from the server's side (RFC 6455 5.1, 5.2):
// RSV1-3 without a negotiated extension, an unknown opcode and a masked frame from the
// server all fail the connection with 1002. A message before the bad frame is still echoed.

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.reserved";

CONFORMANCE_TABLE(reservedBitCases)
{
    const std::pair<std::uint8_t, const char*> frames[] = {{0x1, "text"}, {0x2, "binary"}, {0x9, "ping"}};
    for (int rsv = 1; rsv <= 7; ++rsv) {
        const auto bits = static_cast<std::uint8_t>(rsv << 4);
        const std::string name = std::string(rsv & 4 ? "RSV1" : "") + (rsv & 2 ? "RSV2" : "") + (rsv & 1 ? "RSV3" : "");
        for (auto [op, what] : frames) {
            CONFORMANCE_ADD(S, "RFC 6455 5.2: " + name + " on a " + what + " frame fails with 1002", [op = op, bits] {
                FakeServer s;
                s.open();
                s.sendFrame(op, "Hello", true, bits);
                expectFailure(s, 1002);
            });
        }
        CONFORMANCE_ADD(S, "RFC 6455 5.2: " + name + " on a continuation frame fails with 1002", [bits] {
            FakeServer s;
            s.open();
            s.sendFrame(0x1, "Hel", false);
            s.sendFrame(0x0, "lo", true, bits);
            expectFailure(s, 1002);
        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.2: a text after the RSV2 frame is not echoed", [] {
        FakeServer s;
        s.open();
        s.send(FakeServer::frame(0x1, "first") + FakeServer::frame(0x1, "bad", true, 0x20) +
               FakeServer::frame(0x1, "after"));
        std::vector<Message> before;
        expectFailure(s, 1002, &before);
        // The text before the bad frame may or may not be echoed yet when the client fails.
        CHECK(before.size() <= 1);
        for (const auto& m : before) CHECK(m.payload == "first");
    });
}

CONFORMANCE_TABLE(opcodeCases)
{
    for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.2: reserved opcode " + std::to_string(op) + " fails with 1002", [op] {
            FakeServer s;
            s.open();
            s.sendFrame(op, "reserved");
            expectFailure(s, 1002);
        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.2: reserved opcode 3 between fragments fails with 1002", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "frag", false);
        s.sendFrame(0x3, "reserved");
        expectFailure(s, 1002);
    });
}

CONFORMANCE_TABLE(maskedServerFrameCases)
{
    const std::pair<std::uint8_t, const char*> frames[] = {{0x1, "text"}, {0x2, "binary"}, {0x9, "ping"}, {0x8, "close"}};
    for (auto [op, what] : frames) {
        CONFORMANCE_ADD(S, std::string("RFC 6455 5.1: a masked ") + what + " frame from the server fails with 1002",
                        [op = op] {
                            FakeServer s;
                            s.open();
                            s.send(FakeServer::frame(op, op == 0x8 ? std::string("\x03\xe8", 2) : "masked", true, 0,
                                                     true));
                            expectFailure(s, 1002);
                        });
    }
}

}  // namespace
