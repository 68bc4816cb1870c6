// Section 8: size limits enforced while reading (RFC 6455 10.4): a frame or message over
// the limit fails with 1009 (7.4.1) as soon as its header (or the fragment that crosses
// the limit) arrives, without waiting for the payload.

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.limits";

Tune limits(std::size_t message, std::size_t frame)
{
    return [message, frame](WebSocketServletFactory& f) {
        f.setMaxTextMessageSize(message);
        f.setMaxBinaryMessageSize(message);
        f.setMaxFrameSize(frame);
    };
}

CONFORMANCE_TABLE(limitCases)
{
    for (std::uint8_t op : {std::uint8_t(0x1), std::uint8_t(0x2)}) {
        const std::string kind = op == 1 ? "text" : "binary";
        CONFORMANCE_ADD(S, kind + " message of exactly the limit is echoed", [op] {
            EchoServer s(limits(1000, 1000));
            auto c = s.open();
            c.sendFrame(op, letters(1000));
            expectEcho(c, op, letters(1000));
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, kind + " message one byte over the limit fails with 1009", [op] {
            EchoServer s(limits(1000, 4000));
            auto c = s.open();
            c.sendFrame(op, letters(1001));
            expectClose(c, 1009);
        });
        CONFORMANCE_ADD(S, kind + " fragments crossing the message limit fail with 1009 at that fragment", [op] {
            EchoServer s(limits(1000, 1000));
            auto c = s.open();
            c.sendFrame(op, letters(600), false);
            c.sendFrame(0x0, letters(600), false);  // 1200 > 1000; the message never ends
            expectClose(c, 1009);
        });
        CONFORMANCE_ADD(S, kind + " fragments under both limits are echoed whole", [op] {
            EchoServer s(limits(1000, 300));
            auto c = s.open();
            c.sendFrame(op, letters(300), false);
            c.sendFrame(0x0, letters(300), false);
            c.sendFrame(0x0, letters(300), true);
            expectEcho(c, op, letters(300) + letters(300) + letters(300));
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, kind + " frame over the frame limit fails with 1009", [op] {
            EchoServer s(limits(1000, 300));
            auto c = s.open();
            c.sendFrame(op, letters(301), false);
            expectClose(c, 1009);
        });
        for (std::uint64_t announced : {std::uint64_t(70000), std::uint64_t(1) << 32, (std::uint64_t(1) << 62)}) {
            CONFORMANCE_ADD(S, kind + " header announcing " + std::to_string(announced) +
                                   " bytes fails with 1009 before any payload",
                            [op, announced] {
                                EchoServer s(limits(65536, 65536));
                                auto c = s.open();
                                c.sendRaw(frameHeader(0x80 | op, announced));
                                expectClose(c, 1009);
                            });
        }
    }
    CONFORMANCE_ADD(S, "a 64-bit length with the most significant bit set fails with 1002", [] {
        // RFC 6455 5.2: "the most significant bit MUST be 0".
        EchoServer s;
        auto c = s.open();
        c.sendRaw(frameHeader(0x82, std::uint64_t(1) << 63));
        expectClose(c, 1002);
    });
    CONFORMANCE_ADD(S, "text and binary limits are separate", [] {
        EchoServer s([](WebSocketServletFactory& f) {
            f.setMaxTextMessageSize(100);
            f.setMaxBinaryMessageSize(1000);
        });
        auto c = s.open();
        c.sendBinary(letters(500));
        expectEcho(c, 0x2, letters(500));
        c.sendText(letters(101));
        expectClose(c, 1009);
    });
    CONFORMANCE_ADD(S, "after a 1009 the server keeps serving new connections", [] {
        EchoServer s(limits(100, 100));
        {
            auto c = s.open();
            c.sendRaw(frameHeader(0x81, 1 << 20));
            expectClose(c, 1009);
        }
        auto c = s.open();
        expectHealthy(c);
    });
}

}  // namespace
