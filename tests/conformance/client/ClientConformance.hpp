#pragma once
// Expectations of the client conformance suite: what a conforming echo client sends back,
// how it fails a connection, and how it ends. The subject's contract (issue 11,
// samples/echo-client):
//
//   wharf-echo-client URL [--ca FILE | --insecure] [--deflate] [--max-message BYTES]
//
// echoes every message (same opcode, masked), answers pings; when the server closes it
// completes the close handshake, prints "closed <code>" as its last stdout line and exits
// 0; when the handshake fails or the server breaks the protocol it fails the connection
// with the RFC close code, prints "wharf-echo-client: <reason>" on stderr and exits 1.
//
// Cases register like the server suite's (Conformance.hpp: one doctest case per table
// row) and are named after the RFC section they check.

#include "conformance/Conformance.hpp"
#include "conformance/client/FakeServer.hpp"

#include <algorithm>
#include <initializer_list>

namespace wharf::conformance::client {

/// A subject may be an interpreter that takes a moment to start.
inline constexpr auto kExit = 5000ms;

/// A whole message as the subject sent it, frames reassembled.
struct Message {
    std::uint8_t opcode = 0;
    bool rsv1 = false;
    std::string payload;
    std::size_t frames = 0;
};

/// Every frame from a client is masked (RFC 6455 5.1, 5.3).
inline void checkMasked(const ClientFrame& f)
{
    CHECK_MESSAGE(f.masked, "the client sent an unmasked frame (opcode " << int(f.opcode) << ")");
}

/// Reads the subject's next whole message (data frames only; control frames fail the check).
inline std::optional<Message> readMessage(FakeServer& s, std::chrono::milliseconds wait = kWait)
{
    auto f = s.readFrame(wait);
    if (!f) return std::nullopt;
    checkMasked(*f);
    Message m{f->opcode, f->rsv1(), std::move(f->payload), 1};
    CHECK_MESSAGE((m.opcode == 0x1 || m.opcode == 0x2), "expected a text or binary frame, got opcode " << int(m.opcode));
    for (bool fin = f->fin; !fin; ++m.frames) {
        auto next = s.readFrame(wait);
        if (!next) return std::nullopt;
        checkMasked(*next);
        REQUIRE_MESSAGE(next->opcode == 0x0, "expected a continuation frame, got opcode " << int(next->opcode));
        CHECK_MESSAGE(!next->rsv1(), "RSV1 on a continuation frame (RFC 7692 6.1)");
        m.payload += next->payload;
        fin = next->fin;
    }
    return m;
}

/// The subject echoes `payload` as one message with `opcode`, uncompressed.
inline void expectEcho(FakeServer& s, std::uint8_t opcode, const std::string& payload,
                       std::chrono::milliseconds wait = kWait)
{
    auto m = readMessage(s, wait);
    REQUIRE_MESSAGE(m, "no echo arrived");
    CHECK(int(m->opcode) == int(opcode));
    CHECK(!m->rsv1);
    CHECK(m->payload.size() == payload.size());
    CHECK_MESSAGE(m->payload == payload, "the echo differs from what was sent");
}

/// The subject's next frame is a pong with `payload`.
inline void expectPong(FakeServer& s, const std::string& payload)
{
    auto f = s.readFrame(kWait);
    REQUIRE_MESSAGE(f, "no pong arrived");
    checkMasked(*f);
    CHECK(int(f->opcode) == 0xA);
    CHECK(f->fin);
    CHECK(f->payload == payload);
}

/// Reads until the subject's close frame; data frames on the way go to `before`
/// (when null, there must be none).
inline ClientFrame readClose(FakeServer& s, std::vector<Message>* before = nullptr)
{
    std::vector<Message> skipped;
    for (;;) {
        auto f = s.readFrame(kWait);
        REQUIRE_MESSAGE(f, "the client sent no close frame");
        checkMasked(*f);
        if (f->opcode == 0x8) {
            CHECK(f->fin);
            if (before) *before = std::move(skipped);
            else CHECK_MESSAGE(skipped.empty(), "frames arrived before the close frame");
            return std::move(*f);
        }
        skipped.push_back(Message{f->opcode, f->rsv1(), std::move(f->payload), 1});
    }
}

/// The subject ended as the contract says for a failure: exit 1 and the reason on stderr.
inline void expectFailedExit(FakeServer& s)
{
    const auto e = s.waitExit(kExit);
    CHECK_MESSAGE(e.exited, "the client did not exit (killed)");
    CHECK_MESSAGE(e.code == 1, "exit code " << e.code << "; stderr: " << e.err);
    CHECK_MESSAGE(e.err.find("wharf-echo-client: ") != std::string::npos, "no reason on stderr: " << e.err);
}

/// After the subject's close frame the server closes TCP first (RFC 6455 7.1.1) and sees
/// that nothing followed the close frame (5.5.1).
inline void closeAfterClientClose(FakeServer& s)
{
    s.halfClose();
    std::string after;
    s.waitForEof(kExit, &after);
    CHECK_MESSAGE(after.empty(), "the client sent " << after.size() << " bytes after its close frame");
    s.closeTcp();
}

/// The subject fails the connection with `code` (RFC 6455 7.1.7): its close frame, nothing
/// after it; the server answers the close and closes TCP first (7.1.1); the subject exits 1.
inline void expectFailure(FakeServer& s, std::uint16_t code, std::vector<Message>* before = nullptr)
{
    const auto close = readClose(s, before);
    CHECK(close.closeCode() == code);
    try {
        s.sendClose(code);  // the subject may already have closed TCP (7.1.7 allows it)
    } catch (const std::runtime_error&) {
    }
    closeAfterClientClose(s);
    expectFailedExit(s);
}

/// The handshake was refused: the subject sends no frame and exits 1. It may close TCP
/// itself or half-close and wait for the server to close (7.1.1 "the client SHOULD wait"),
/// so the server closes its side after seeing the subject's FIN or a moment.
inline void expectHandshakeFailure(FakeServer& s)
{
    std::string sent;
    s.waitForEof(300ms, &sent);
    s.halfClose();
    if (sent.empty()) s.waitForEof(kExit, &sent);
    CHECK_MESSAGE(sent.empty(), "the client sent " << sent.size() << " bytes after a refused handshake");
    expectFailedExit(s);
}

/// The subject ended as the contract says for a close by the server: exit 0, "closed <code>".
inline void expectClosedExit(FakeServer& s, std::uint16_t printed)
{
    const auto e = s.waitExit(kExit);
    CHECK_MESSAGE(e.exited, "the client did not exit (killed)");
    CHECK_MESSAGE(e.code == 0, "exit code " << e.code << "; stderr: " << e.err);
    CHECK(e.lastLine() == "closed " + std::to_string(printed));
}

/// The server closes with `code` (0: an empty close payload); the subject echoes the close
/// (RFC 6455 5.5.1: with the same code, or any of `echoed`), the server closes TCP first
/// (7.1.1), the subject prints the code and exits 0.
inline void serverCloses(FakeServer& s, std::uint16_t code = 1000, std::string_view reason = {},
                         std::initializer_list<std::uint16_t> echoed = {})
{
    if (code == 0) s.sendFrame(0x8, "");
    else s.sendClose(code, reason);
    const auto close = readClose(s);
    const auto got = close.closeCode();
    CHECK_MESSAGE((got == code || std::find(echoed.begin(), echoed.end(), got) != echoed.end()),
                  "the client answered close " << code << " with " << got);
    closeAfterClientClose(s);
    expectClosedExit(s, code == 0 ? 1005 : code);
}

}  // namespace wharf::conformance::client
