// Section 1: framing (RFC 6455 5.2): payload lengths across the 7/16/64-bit encodings,
// frames split at every byte, many frames per segment, masking.

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.framing";

CONFORMANCE_TABLE(framingLengths)
{
    // 7-bit: 0..125; 16-bit: 126..65535; 64-bit: 65536 and up (RFC 6455 5.2).
    for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 128u, 65535u, 65536u}) {
        for (std::uint8_t op : {std::uint8_t(0x1), std::uint8_t(0x2)}) {
            CONFORMANCE_ADD(S, (op == 1 ? "text" : "binary") + std::string(" payload of ") + std::to_string(n) +
                                   " bytes is echoed",
                            [n, op] {
                                EchoServer s([](WebSocketServletFactory& f) { f.setMaxMessageSize(128 * 1024); });
                                auto c = s.open();
                                const auto payload = op == 1 ? letters(n) : pattern(n, unsigned(n));
                                c.sendFrame(op, payload);
                                expectEcho(c, op, payload);
                                closeNormally(c);
                            });
        }
    }
    for (std::size_t mib : {2u, 5u}) {
        for (std::uint8_t op : {std::uint8_t(0x1), std::uint8_t(0x2)}) {
            CONFORMANCE_ADD(S, (op == 1 ? "text" : "binary") + std::string(" message of ") + std::to_string(mib) +
                                   " MiB with raised limits is echoed",
                            [mib, op] {
                                EchoServer s([](WebSocketServletFactory& f) {
                                    f.setMaxMessageSize(8 * 1024 * 1024);
                                    f.setMaxSendQueueSize(16 * 1024 * 1024);
                                });
                                auto c = s.open();
                                const auto payload = op == 1 ? letters(mib << 20) : pattern(mib << 20);
                                c.sendFrame(op, payload);
                                expectEcho(c, op, payload, kLargeWait);
                                closeNormally(c);
                            });
        }
    }
    // Byte by byte: the parser must assemble 2-, 4- and 10-byte headers and the mask across reads.
    for (std::size_t n : {0u, 5u, 125u, 126u, 300u, 65536u}) {
        CONFORMANCE_ADD(S, "text of " + std::to_string(n) + " bytes sent one byte per write is echoed", [n] {
            EchoServer s([](WebSocketServletFactory& f) { f.setMaxMessageSize(128 * 1024); });
            auto c = s.open();
            const auto payload = letters(n);
            const auto bytes = RawClient::buildFrame(0x1, payload);
            if (n > 1000) {
                // Header byte by byte, then the payload in one go.
                const std::size_t header = 14;
                for (std::size_t i = 0; i < header; ++i) c.sendRaw(bytes.substr(i, 1));
                c.sendRaw(std::string_view(bytes).substr(header));
            } else {
                for (char b : bytes) c.sendRaw(std::string_view(&b, 1));
            }
            expectEcho(c, 0x1, payload);
            closeNormally(c);
        });
    }
    // Every split point of one frame's bytes, two writes each (RFC 6455 5.2 framing is a byte stream).
    for (std::size_t n : {3u, 200u, 70000u}) {
        CONFORMANCE_ADD(S, "a frame of " + std::to_string(n) + " bytes split into two writes at every header offset",
                        [n] {
                            EchoServer s([](WebSocketServletFactory& f) { f.setMaxMessageSize(128 * 1024); });
                            auto c = s.open();
                            const auto payload = letters(n);
                            const auto bytes = RawClient::buildFrame(0x2, payload);
                            const std::size_t header = n < 126 ? 6 : n <= 0xFFFF ? 8 : 14;
                            for (std::size_t cut = 1; cut <= header + 2; ++cut) {
                                CAPTURE(cut);
                                c.sendRaw(std::string_view(bytes).substr(0, cut));
                                c.sendRaw(std::string_view(bytes).substr(cut));
                                expectEcho(c, 0x2, payload);
                            }
                            closeNormally(c);
                        });
    }
    for (int count : {2, 10, 100, 500}) {
        CONFORMANCE_ADD(S, std::to_string(count) + " frames in one TCP write are echoed in order", [count] {
            EchoServer s;
            auto c = s.open();
            std::string batch;
            for (int i = 0; i < count; ++i) batch += RawClient::buildFrame(i % 2 ? 0x2 : 0x1, "m" + std::to_string(i));
            c.sendRaw(batch);
            for (int i = 0; i < count; ++i) {
                CAPTURE(i);
                expectEcho(c, i % 2 ? 0x2 : 0x1, "m" + std::to_string(i));
            }
            closeNormally(c);
        });
    }
    CONFORMANCE_ADD(S, "a batch of mixed frames written in 7-byte chunks is echoed in order", [] {
        EchoServer s([](WebSocketServletFactory& f) { f.setMaxMessageSize(128 * 1024); });
        auto c = s.open();
        std::string batch;
        std::vector<std::string> sent;
        for (std::size_t n : {0u, 1u, 125u, 126u, 1000u, 65536u, 2u}) {
            sent.push_back(letters(n));
            batch += RawClient::buildFrame(0x1, sent.back());
            batch += RawClient::buildFrame(0x9, "p");
        }
        for (std::size_t at = 0; at < batch.size(); at += 7) c.sendRaw(std::string_view(batch).substr(at, 7));
        for (const auto& m : sent) {
            auto pong = c.readFrame(kWait);
            REQUIRE(pong);
            // Echo and pong of each pair may come in either order? No: the echo is queued
            // by the listener during the text, the pong when the ping is parsed later.
            CHECK(int(pong->opcode) == 0x1);
            CHECK(pong->payload == m);
            auto p = c.readFrame(kWait);
            REQUIRE(p);
            CHECK(int(p->opcode) == 0xA);
        }
        closeNormally(c);
    });
    // Unmasked client frames (RFC 6455 5.1: the server MUST close the connection).
    const std::pair<std::uint8_t, const char*> unmasked[] = {
        {0x1, "text"}, {0x2, "binary"}, {0x9, "ping"}, {0xA, "pong"}, {0x8, "close"}, {0x0, "continuation"}};
    for (auto [op, name] : unmasked) {
        CONFORMANCE_ADD(S, std::string("unmasked ") + name + " frame fails with 1002", [op = op] {
            EchoServer s;
            auto c = s.open();
            if (op == 0x0) c.sendFrame(0x1, "start", false);
            const std::string payload = op == 0x8 ? std::string("\x03\xe8", 2) : std::string("x");
            c.sendFrame(op, payload, true, false);
            expectClose(c, 1002);
        });
    }
    CONFORMANCE_ADD(S, "an unmasked frame whose header arrives in pieces fails with 1002 without waiting", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(std::string("\x81", 1));
        c.sendRaw(std::string("\x7e", 1));  // unmasked, 16-bit length still to come
        expectClose(c, 1002);
    });
    // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
    const std::pair<std::uint64_t, const char*> nonMinimal[] = {
        {0, "a 16-bit length of 0"}, {125, "a 16-bit length of 125"}, {0, "a 64-bit length of 0"},
        {65535, "a 64-bit length of 65535"}};
    for (std::size_t i = 0; i < std::size(nonMinimal); ++i) {
        const auto [length, name] = nonMinimal[i];
        const bool wide = i >= 2;
        CONFORMANCE_ADD(S, std::string(name) + " (not the minimal encoding) fails with 1002", [length, wide] {
            EchoServer s([](WebSocketServletFactory& f) { f.setMaxMessageSize(128 * 1024); });
            auto c = s.open();
            std::string frame("\x82", 1);
            if (wide) {
                frame.push_back(static_cast<char>(0x80 | 127));
                for (int b = 7; b >= 0; --b) frame.push_back(static_cast<char>(length >> (8 * b)));
            } else {
                frame.push_back(static_cast<char>(0x80 | 126));
                frame.push_back(static_cast<char>(length >> 8));
                frame.push_back(static_cast<char>(length));
            }
            frame.append("\x00\x00\x00\x00", 4);  // zero mask
            frame.append(std::string(length, 'n'));
            c.sendRaw(frame);
            expectClose(c, 1002);
        });
    }
    CONFORMANCE_ADD(S, "payload after a text frame in the same write as the close is not echoed", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x1, "one") + RawClient::buildFrame(0x8, std::string("\x03\xe8", 2)) +
                  RawClient::buildFrame(0x1, "two"));
        std::vector<Frame> before;
        expectClose(c, 1000, &before);
        REQUIRE(before.size() == 1);
        CHECK(before[0].payload == "one");
    });
}

}  // namespace
