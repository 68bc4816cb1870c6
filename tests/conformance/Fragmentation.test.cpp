// Section 5: fragmentation (RFC 6455 5.4): messages in any number of fragments,
// empty fragments, control frames interleaved; continuation without a start and a new
// data frame inside a fragmented message fail with 1002.

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.fragmentation";

CONFORMANCE_TABLE(fragmentationCases)
{
    for (std::uint8_t op : {std::uint8_t(0x1), std::uint8_t(0x2)}) {
        const std::string kind = op == 1 ? "text" : "binary";
        for (std::size_t parts : {1u, 2u, 3u, 10u, 100u}) {
            CONFORMANCE_ADD(S, kind + " message in " + std::to_string(parts) + " fragments is echoed whole",
                            [op, parts] {
                                EchoServer s;
                                auto c = s.open();
                                const std::string message = letters(parts * 7);
                                for (std::size_t i = 0; i < parts; ++i)
                                    c.sendFrame(i == 0 ? op : 0x0, message.substr(i * 7, 7), i + 1 == parts);
                                expectEcho(c, op, message);
                                closeNormally(c);
                            });
        }
        CONFORMANCE_ADD(S, kind + " message made of empty fragments is echoed as an empty message", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, "", false);
            c.sendFrame(0x0, "", false);
            c.sendFrame(0x0, "", true);
            expectEcho(c, op, "");
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, kind + " message with empty first and last fragments is echoed", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, "", false);
            c.sendFrame(0x0, "middle", false);
            c.sendFrame(0x0, "", true);
            expectEcho(c, op, "middle");
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, kind + " fragments all in one write are echoed whole", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendRaw(RawClient::buildFrame(op, "ab", false) + RawClient::buildFrame(0x9, "p") +
                      RawClient::buildFrame(0x0, "cd", false) + RawClient::buildFrame(0x0, "ef", true));
            expectEcho(c, 0xA, "p");
            expectEcho(c, op, "abcdef");
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, "a new text frame inside a fragmented " + kind + " message fails with 1002", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, "one", false);
            c.sendFrame(0x1, "two", true);
            expectClose(c, 1002);
        });
        CONFORMANCE_ADD(S, "a new binary frame inside a fragmented " + kind + " message fails with 1002", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, "one", false);
            c.sendFrame(0x2, "two", false);
            expectClose(c, 1002);
        });
        CONFORMANCE_ADD(S, "a fragmented " + kind + " message followed by a second message echoes both", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, "first ", false);
            c.sendFrame(0x0, "message", true);
            c.sendFrame(op, "second", true);
            expectEcho(c, op, "first message");
            expectEcho(c, op, "second");
            closeNormally(c);
        });
    }
    for (bool fin : {true, false}) {
        for (std::size_t n : {0u, 5u}) {
            CONFORMANCE_ADD(S, std::string("continuation without a message (FIN ") + (fin ? "set" : "clear") + " " +
                                   std::to_string(n) + " bytes) fails with 1002",
                            [fin, n] {
                                EchoServer s;
                                auto c = s.open();
                                c.sendFrame(0x0, letters(n), fin);
                                expectClose(c, 1002);
                            });
        }
    }
    CONFORMANCE_ADD(S, "continuation after a completed message fails with 1002 after the echo", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x1, "done") + RawClient::buildFrame(0x0, "more"));
        std::vector<Frame> before;
        expectClose(c, 1002, &before);
        REQUIRE(before.size() == 1);
        CHECK(before[0].payload == "done");
    });
    CONFORMANCE_ADD(S, "a fragmented message is not delivered in part before the close", [] {
        EchoServer s;
        auto c = s.open();
        c.sendFrame(0x1, "unfinished", false);
        closeNormally(c);  // no echo of the unfinished message comes before the close
    });
}

}  // namespace
