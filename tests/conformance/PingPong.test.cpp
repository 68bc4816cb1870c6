// Section 2: control frames (RFC 6455 5.5): ping answered by a pong with the same
// payload (5.5.2/5.5.3), control frames at most 125 bytes and never fragmented (5.5),
// unsolicited pongs ignored (5.5.3), control frames between fragments (5.4).

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.pingpong";

CONFORMANCE_TABLE(pingPongCases)
{
    for (std::size_t n : {0u, 1u, 10u, 124u, 125u}) {
        CONFORMANCE_ADD(S, "ping with " + std::to_string(n) + " text bytes gets a pong with the same payload", [n] {
            EchoServer s;
            auto c = s.open();
            const auto payload = letters(n);
            c.sendFrame(0x9, payload);
            expectEcho(c, 0xA, payload);
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, "ping with " + std::to_string(n) + " binary bytes gets a pong with the same payload", [n] {
            EchoServer s;
            auto c = s.open();
            const auto payload = pattern(n, 7);
            c.sendFrame(0x9, payload);
            expectEcho(c, 0xA, payload);
            closeNormally(c);
        });
    }
    for (std::uint8_t op : {std::uint8_t(0x9), std::uint8_t(0xA), std::uint8_t(0x8)}) {
        const std::string name = op == 0x9 ? "ping" : op == 0xA ? "pong" : "close";
        for (std::size_t n : {126u, 200u, 65535u, 65536u}) {
            CONFORMANCE_ADD(S, name + " with a " + std::to_string(n) + "-byte payload fails with 1002", [op, n] {
                EchoServer s;
                auto c = s.open();
                std::string payload = letters(n);
                if (op == 0x8) payload.replace(0, 2, "\x03\xe8");
                c.sendFrame(op, payload);
                expectClose(c, 1002);
            });
        }
        CONFORMANCE_ADD(S, "fragmented " + name + " (FIN clear) fails with 1002", [op] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(op, op == 0x8 ? std::string("\x03\xe8", 2) : std::string("ab"), false);
            c.sendFrame(0x0, "cd", true);
            expectClose(c, 1002);
        });
    }
    CONFORMANCE_ADD(S, "a 126-byte ping is refused from its header before any payload is sent", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(frameHeader(0x89, 126));
        expectClose(c, 1002);
    });
    for (std::size_t n : {0u, 10u, 125u}) {
        CONFORMANCE_ADD(S, "unsolicited pong of " + std::to_string(n) + " bytes is ignored", [n] {
            EchoServer s;
            auto c = s.open();
            c.sendFrame(0xA, letters(n));
            c.sendText("after pong");
            expectEcho(c, 0x1, "after pong");  // nothing was sent for the pong
            closeNormally(c);
        });
    }
    for (int count : {2, 10, 50}) {
        CONFORMANCE_ADD(S, std::to_string(count) + " pings in one write get " + std::to_string(count) + " pongs in order",
                        [count] {
                            EchoServer s;
                            auto c = s.open();
                            std::string batch;
                            for (int i = 0; i < count; ++i) batch += RawClient::buildFrame(0x9, "p" + std::to_string(i));
                            c.sendRaw(batch);
                            for (int i = 0; i < count; ++i) expectEcho(c, 0xA, "p" + std::to_string(i));
                            closeNormally(c);
                        });
    }
    CONFORMANCE_ADD(S, "ping sent one byte at a time gets its pong", [] {
        EchoServer s;
        auto c = s.open();
        const auto bytes = RawClient::buildFrame(0x9, "slow ping");
        for (char b : bytes) c.sendRaw(std::string_view(&b, 1));
        expectEcho(c, 0xA, "slow ping");
        closeNormally(c);
    });
    for (std::uint8_t op : {std::uint8_t(0x1), std::uint8_t(0x2)}) {
        CONFORMANCE_ADD(S, std::string("pings between the fragments of a ") + (op == 1 ? "text" : "binary") +
                               " message are answered at once",
                        [op] {
                            EchoServer s;
                            auto c = s.open();
                            c.sendFrame(op, "frag", false);
                            c.sendFrame(0x9, "ping 1");
                            expectEcho(c, 0xA, "ping 1");  // answered before the message ends
                            c.sendFrame(0x0, "ment", false);
                            c.sendFrame(0x9, "ping 2");
                            expectEcho(c, 0xA, "ping 2");
                            c.sendFrame(0x0, "ed", true);
                            expectEcho(c, op, "fragmented");
                            closeNormally(c);
                        });
    }
    CONFORMANCE_ADD(S, "a pong between fragments is ignored and the message completes", [] {
        EchoServer s;
        auto c = s.open();
        c.sendFrame(0x1, "a", false);
        c.sendFrame(0xA, "unsolicited");
        c.sendFrame(0x0, "b", true);
        expectEcho(c, 0x1, "ab");
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "a ping after the close frame is not answered", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x8, std::string("\x03\xe8", 2)) + RawClient::buildFrame(0x9, "late"));
        expectClose(c, 1000);
    });
}

}  // namespace
