#include "protocol/FrameParser.hpp"

#include "ProtocolBytes.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wharf;
using namespace wharf::test;

namespace {

/// A few frames of every header form, a fragmented message with a ping inside, an empty
/// frame and a close: what the peer of `role` sends.
std::string mixedFrames(Role role)
{
    std::string in;
    in += peerFrame(role, Opcode::Text, "hello");
    in += peerFrame(role, Opcode::Binary, std::string(126, 'b'));      // 16-bit length
    in += peerFrame(role, Opcode::Binary, std::string(70000, 'c'));    // 64-bit length
    in += peerFrame(role, Opcode::Text, "frag", false);
    in += peerFrame(role, Opcode::Ping, "are you there");
    in += peerFrame(role, Opcode::Continuation, "", false);
    in += peerFrame(role, Opcode::Continuation, "ment", true);
    in += peerFrame(role, Opcode::Text, "");
    in += peerFrame(role, Opcode::Close, std::string("\x03\xe8" "bye", 5));
    return in;
}

void checkMixed(const ParseRun& run)
{
    REQUIRE_FALSE(run.failure);
    REQUIRE(run.frames.size() == 9);
    CHECK(run.frames[0].header.opcode == Opcode::Text);
    CHECK(run.frames[0].payload == "hello");
    CHECK(run.frames[1].payload == std::string(126, 'b'));
    CHECK(run.frames[2].header.length == 70000);
    CHECK(run.frames[2].payload == std::string(70000, 'c'));
    CHECK_FALSE(run.frames[3].header.fin);
    CHECK(run.frames[4].header.opcode == Opcode::Ping);
    CHECK(run.frames[4].payload == "are you there");
    CHECK(run.frames[5].header.opcode == Opcode::Continuation);
    CHECK(run.frames[5].payload.empty());
    CHECK(run.frames[6].header.fin);
    CHECK(run.frames[6].payload == "ment");
    CHECK(run.frames[7].payload.empty());
    CHECK(run.frames[8].header.opcode == Opcode::Close);
}

ProtocolFailure failureOf(Role role, std::string_view bytes, std::uint64_t maxFrame = 1 << 20, bool rsv1 = false)
{
    FrameParser parser(role, maxFrame, rsv1);
    auto run = parseInPieces(parser, bytes);
    REQUIRE(run.failure);
    CHECK(parser.failed());
    return *run.failure;
}

}  // namespace

TEST_SUITE("protocol: frame parser") {

TEST_CASE("a client's frames round-trip through the server-role parser, in every split")
{
    const auto in = mixedFrames(Role::Server);
    for (std::size_t piece : {std::size_t(0), std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(5),
                              std::size_t(7), std::size_t(13), std::size_t(14), std::size_t(127), std::size_t(4096)}) {
        CAPTURE(piece);
        FrameParser parser(Role::Server, 1 << 20);
        checkMixed(parseInPieces(parser, in, piece));
    }
}

TEST_CASE("a server's frames round-trip through the client-role parser, in every split")
{
    const auto in = mixedFrames(Role::Client);
    for (std::size_t piece : {std::size_t(0), std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(9),
                              std::size_t(10), std::size_t(11), std::size_t(4096)}) {
        CAPTURE(piece);
        FrameParser parser(Role::Client, 1 << 20);
        checkMixed(parseInPieces(parser, in, piece));
    }
}

TEST_CASE("every split point of a few small frames gives the same frames")
{
    for (Role role : {Role::Server, Role::Client}) {
        const std::string in = peerFrame(role, Opcode::Text, "abc") +
                               peerFrame(role, Opcode::Binary, std::string(300, 'x')) + peerFrame(role, Opcode::Pong, "p");
        for (std::size_t cut = 0; cut <= in.size(); ++cut) {
            CAPTURE(cut);
            FrameParser parser(role, 1 << 20);
            ParseRun run;
            feedInPieces(parser, std::string_view(in).substr(0, cut), 0, run);
            feedInPieces(parser, std::string_view(in).substr(cut), 0, run);
            REQUIRE_FALSE(run.failure);
            REQUIRE(run.frames.size() == 3);
            CHECK(run.frames[0].payload == "abc");
            CHECK(run.frames[1].payload == std::string(300, 'x'));
            CHECK(run.frames[2].header.opcode == Opcode::Pong);
            CHECK(run.frames[2].payload == "p");
        }
    }
}

TEST_CASE("payload is unmasked in place and a frame that arrives whole is handed over whole")
{
    std::string in = peerFrame(Role::Server, Opcode::Binary, "0123456789");
    FrameParser parser(Role::Server, 1 << 20);
    char* p = in.data();
    char* const end = p + in.size();
    REQUIRE(parser.next(p, end) == FrameParser::Event::Header);
    CHECK(parser.header().length == 10);
    REQUIRE(parser.next(p, end) == FrameParser::Event::Payload);
    CHECK(parser.chunk() == "0123456789");
    CHECK(parser.chunk().data() == in.data() + 6);  // 2 header bytes + 4 mask bytes
    CHECK(parser.wholeFrame());
    CHECK(parser.frameEnd());
    CHECK(parser.next(p, end) == FrameParser::Event::NeedMore);
    CHECK(p == end);

    SUBCASE("split: the pieces are not whole")
    {
        FrameParser split(Role::Server, 1 << 20);
        auto run = parseInPieces(split, peerFrame(Role::Server, Opcode::Binary, "0123456789"), 8);
        REQUIRE(run.frames.size() == 1);
        CHECK(run.frames[0].payload == "0123456789");
        CHECK_FALSE(run.frames[0].arrivedWhole);
    }
}

TEST_CASE("masking is checked per role (RFC 6455 5.1)")
{
    SUBCASE("a server fails an unmasked frame as soon as its second byte is in")
    {
        FrameParser parser(Role::Server, 1 << 20);
        std::string two = rawFrame(0x82, 126, 16, false).substr(0, 2);  // the length bytes never come
        auto run = parseInPieces(parser, two);
        REQUIRE(run.failure);
        CHECK(run.failure->status == CloseStatus::ProtocolError);
        CHECK(run.failure->reason == "client frames must be masked");
    }
    SUBCASE("a client fails a masked frame")
    {
        auto f = failureOf(Role::Client, rawFrame(0x81, 2, 7, true, "hi"));
        CHECK(f.status == CloseStatus::ProtocolError);
        CHECK(f.reason == "server frames must not be masked");
    }
}

TEST_CASE("reserved bits and opcodes fail with 1002")
{
    for (Role role : {Role::Server, Role::Client}) {
        const bool masked = role == Role::Server;
        CAPTURE(int(role));
        CHECK(failureOf(role, rawFrame(0xC1, 1, 7, masked, "x")).reason == "RSV1 set without permessage-deflate");
        CHECK(failureOf(role, rawFrame(0xA1, 1, 7, masked, "x")).status == CloseStatus::ProtocolError);  // RSV2
        CHECK(failureOf(role, rawFrame(0x91, 1, 7, masked, "x")).status == CloseStatus::ProtocolError);  // RSV3
        CHECK(failureOf(role, rawFrame(0x91, 1, 7, masked, "x"), 1 << 20, true).status == CloseStatus::ProtocolError);
        CHECK(failureOf(role, rawFrame(0xC9, 0, 7, masked), 1 << 20, true).reason == "RSV1 set on a control frame");
        for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
            CAPTURE(int(op));
            const auto f = failureOf(role, rawFrame(0x80 | op, 0, 7, masked));
            CHECK(f.status == CloseStatus::ProtocolError);
            CHECK(f.error == Errc::ProtocolError);
        }
        // RSV1 is fine once an extension allows it, on a message's first frame only.
        FrameParser parser(role, 1 << 20, true);
        auto run = parseInPieces(parser, rawFrame(0x41, 1, 7, masked, "x") + rawFrame(0x80, 1, 7, masked, "y"));
        CHECK_FALSE(run.failure);
        CHECK(run.frames.size() == 2);
        CHECK(run.frames[0].header.rsv1);
        CHECK(failureOf(role, rawFrame(0x41, 1, 7, masked, "x") + rawFrame(0xC0, 1, 7, masked, "y"), 1 << 20, true)
                  .reason == "RSV1 set on a continuation frame");
    }
}

TEST_CASE("control frames: fragmented or over 125 bytes fail with 1002 (RFC 6455 5.5)")
{
    for (Role role : {Role::Server, Role::Client}) {
        const bool masked = role == Role::Server;
        CHECK(failureOf(role, rawFrame(0x09, 0, 7, masked)).reason == "fragmented control frame");
        CHECK(failureOf(role, rawFrame(0x89, 126, 16, masked)).reason == "control frame payload over 125 bytes");
        CHECK(failureOf(role, rawFrame(0x88, 126, 64, masked)).status == CloseStatus::ProtocolError);
        // 125 is fine.
        FrameParser parser(role, 1 << 20);
        CHECK_FALSE(parseInPieces(parser, rawFrame(0x8A, 125, 7, masked, std::string(125, 'p'))).failure);
    }
}

TEST_CASE("a length not in its minimal form fails with 1002 (RFC 6455 5.2)")
{
    for (Role role : {Role::Server, Role::Client}) {
        const bool masked = role == Role::Server;
        CAPTURE(int(role));
        for (std::uint64_t n : {0u, 1u, 125u}) {
            const auto f = failureOf(role, rawFrame(0x82, n, 16, masked, std::string(n, 'a')));
            CHECK(f.status == CloseStatus::ProtocolError);
            CHECK(f.reason == "length " + std::to_string(n) + " in the 16-bit form (not minimal)");
        }
        for (std::uint64_t n : {0u, 125u, 126u, 0xFFFFu}) {
            const auto f = failureOf(role, rawFrame(0x82, n, 64, masked, std::string(n, 'a')));
            CHECK(f.status == CloseStatus::ProtocolError);
            CHECK(f.reason == "length " + std::to_string(n) + " in the 64-bit form (not minimal)");
        }
        // The smallest lengths of each form are accepted.
        FrameParser parser(role, 1 << 20);
        auto run = parseInPieces(parser, rawFrame(0x82, 126, 16, masked, std::string(126, 'a')) +
                                             rawFrame(0x82, 0x10000, 64, masked, std::string(0x10000, 'b')));
        CHECK_FALSE(run.failure);
        CHECK(run.frames.size() == 2);
        // Top bit of the 64-bit length.
        CHECK(failureOf(role, rawFrame(0x82, std::uint64_t(1) << 63, 64, masked)).reason ==
              "64-bit payload length with the top bit set");
    }
}

TEST_CASE("a frame over the limit fails with 1009 from its header, before any payload")
{
    for (Role role : {Role::Server, Role::Client}) {
        const bool masked = role == Role::Server;
        FrameParser parser(role, 1000);
        // Only the header is sent: the parser must not wait for the 1001 payload bytes.
        auto run = parseInPieces(parser, rawFrame(0x82, 1001, 16, masked));
        REQUIRE(run.failure);
        CHECK(run.failure->status == CloseStatus::MessageTooBig);
        CHECK(run.failure->error == Errc::MessageTooBig);
        CHECK(run.frames.empty());
        // A compressed message's frame may carry the deflate slack, no more.
        FrameParser compressed(role, 1000, true);
        const auto slack = detail::withDeflateSlack(1000);
        CHECK_FALSE(parseInPieces(compressed, rawFrame(0x42, slack, 16, masked)).failure);
        FrameParser over(role, 1000, true);
        CHECK(parseInPieces(over, rawFrame(0x42, slack + 1, 16, masked)).failure->status == CloseStatus::MessageTooBig);
        // Control frames are bounded at 125, not by the frame limit.
        FrameParser small(role, 10);
        CHECK_FALSE(parseInPieces(small, rawFrame(0x89, 100, 7, masked, std::string(100, 'p'))).failure);
    }
}

TEST_CASE("fragment sequencing (RFC 6455 5.4)")
{
    for (Role role : {Role::Server, Role::Client}) {
        CHECK(failureOf(role, peerFrame(role, Opcode::Continuation, "x")).reason == "continuation frame without a message");
        CHECK(failureOf(role, peerFrame(role, Opcode::Text, "a", false) + peerFrame(role, Opcode::Binary, "b")).reason ==
              "new data frame inside a fragmented message");
        // After the final fragment a new message may start; the continuation knows its message.
        FrameParser parser(role, 1 << 20);
        auto run = parseInPieces(parser, peerFrame(role, Opcode::Binary, "a", false) +
                                             peerFrame(role, Opcode::Continuation, "b") + peerFrame(role, Opcode::Text, "c"));
        CHECK_FALSE(run.failure);
        CHECK(run.frames.size() == 3);
        CHECK(failureOf(role, peerFrame(role, Opcode::Binary, "a") + peerFrame(role, Opcode::Continuation, "b")).reason ==
              "continuation frame without a message");
    }
}

TEST_CASE("after a failure the parser consumes nothing more")
{
    FrameParser parser(Role::Server, 1 << 20);
    std::string in = rawFrame(0x83, 0, 7, true) + peerFrame(Role::Server, Opcode::Text, "later");
    auto run = parseInPieces(parser, in);
    REQUIRE(run.failure);
    CHECK(run.unconsumed == in.size());  // the bad header was not consumed either
    char* p = in.data();
    CHECK(parser.next(p, in.data() + in.size()) == FrameParser::Event::Failed);
    CHECK(p == in.data());
}

}  // TEST_SUITE
