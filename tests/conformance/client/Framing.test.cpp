// Framing from the client's side (RFC 6455 5.1-5.3, 5.6): every frame the client sends is
// masked with a fresh key; the server's frames of every length form (7-bit, 16-bit, 64-bit)
// arrive whole however TCP chops them, one byte per write or many frames per write.

#include "conformance/client/ClientConformance.hpp"

#include <set>

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.framing";

/// Limits high enough that the sizes below are not limit cases.
const std::vector<std::string> kBig = {"--max-message", "4194304"};

CONFORMANCE_TABLE(sizeCases)
{
    for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(125), std::size_t(126), std::size_t(127),
                             std::size_t(65535), std::size_t(65536), std::size_t(1) << 20}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.2: a " + std::to_string(size) + "-byte text is echoed", [size] {
            FakeServer s(kBig);
            s.open();
            s.sendFrame(0x1, letters(size));
            expectEcho(s, 0x1, letters(size), kLargeWait);
            serverCloses(s);
        });
        CONFORMANCE_ADD(S, "RFC 6455 5.2: a " + std::to_string(size) + "-byte binary is echoed", [size] {
            FakeServer s(kBig);
            s.open();
            s.sendFrame(0x2, pattern(size, 7));
            expectEcho(s, 0x2, pattern(size, 7), kLargeWait);
            serverCloses(s);
        });
    }
}

CONFORMANCE_TABLE(maskingCases)
{
    CONFORMANCE_ADD(S, "RFC 6455 5.3: 50 echoes are all masked and no mask key repeats", [] {
        FakeServer s;
        s.open();
        std::set<std::uint32_t> keys;
        for (int i = 0; i < 50; ++i) {
            const auto text = "message " + std::to_string(i);
            s.sendFrame(0x1, text);
            auto f = s.readFrame(kWait);
            REQUIRE_MESSAGE(f, "no echo of message " << i);
            CHECK(f->masked);
            CHECK(f->payload == text);
            keys.insert(f->maskKey);
        }
        CHECK(keys.size() == 50);
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.1: the close frame is masked too", [] {
        FakeServer s;
        s.open();
        s.sendClose(1000);
        auto f = s.readFrame(kWait);
        REQUIRE(f);
        CHECK(f->opcode == 0x8);
        CHECK(f->masked);
        closeAfterClientClose(s);
        expectClosedExit(s, 1000);
    });
}

CONFORMANCE_TABLE(chopCases)
{
    for (std::size_t size : {std::size_t(20), std::size_t(300), std::size_t(70000)}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.2: a " + std::to_string(size) + "-byte frame written one byte at a time is echoed",
                        [size] {
                            FakeServer s(kBig);
                            s.open();
                            const auto bytes = FakeServer::frame(0x2, pattern(size, 3));
                            // Byte by byte for the header and the start, then the rest at once:
                            // every split point of the header is crossed without 70000 writes.
                            const std::size_t slow = std::min<std::size_t>(bytes.size(), 40);
                            for (std::size_t i = 0; i < slow; ++i) s.send(std::string_view(bytes).substr(i, 1));
                            s.send(std::string_view(bytes).substr(slow));
                            expectEcho(s, 0x2, pattern(size, 3), kLargeWait);
                            serverCloses(s);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.2: the 101 and a frame written one byte at a time", [] {
        FakeServer s;
        s.readRequest();
        const auto bytes = s.switchingProtocols() + FakeServer::frame(0x1, "slowly");
        for (char b : bytes) s.send(std::string_view(&b, 1));
        expectEcho(s, 0x1, "slowly");
        serverCloses(s);
    });
    for (int count : {2, 10, 100}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.2: " + std::to_string(count) + " frames in one write are echoed in order",
                        [count] {
                            FakeServer s;
                            s.open();
                            std::string bytes;
                            for (int i = 0; i < count; ++i)
                                bytes += FakeServer::frame(i % 2 ? 0x2 : 0x1, "frame " + std::to_string(i));
                            s.send(bytes);
                            for (int i = 0; i < count; ++i)
                                expectEcho(s, i % 2 ? 0x2 : 0x1, "frame " + std::to_string(i));
                            serverCloses(s);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.2: frames and the close in one write are echoed before the close", [] {
        FakeServer s;
        s.open();
        s.send(FakeServer::frame(0x1, "one") + FakeServer::frame(0x2, "two"));
        expectEcho(s, 0x1, "one");
        expectEcho(s, 0x2, "two");
        serverCloses(s);
    });
}

}  // namespace
