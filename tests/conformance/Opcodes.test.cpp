// Section 4: reserved opcodes 3-7 (data) and 0xB-0xF (control) fail with 1002
// (RFC 6455 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail
// the WebSocket Connection_").

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.opcodes";

CONFORMANCE_TABLE(opcodeCases)
{
    for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        const auto hexOp = std::string("0x") + "0123456789ABCDEF"[op];
        CONFORMANCE_ADD(S, "reserved opcode " + hexOp + " with an empty payload fails with 1002", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, "");
            expectClose(c, 1002);
        });
        CONFORMANCE_ADD(S, "reserved opcode " + hexOp + " with a payload fails with 1002 and earlier frames are echoed",
                        [op] {
                            EchoServer s;
                            auto c = s.open();
                            c.sendRaw(RawClient::buildFrame(0x1, "before") + RawClient::buildFrame(op, "reserved") +
                                      RawClient::buildFrame(0x9, "after"));
                            std::vector<Frame> before;
                            expectClose(c, 1002, &before);
                            REQUIRE(before.size() == 1);
                            CHECK(before[0].payload == "before");
                        });
        CONFORMANCE_ADD(S, "reserved opcode " + hexOp + " between fragments fails with 1002", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(0x1, "frag", false);
            c.sendFrame(op, "x", true);
            c.sendFrame(0x0, "ment", true);
            expectClose(c, 1002);
        });
    }
}

}  // namespace
