#include "protocol/MessageAssembler.hpp"

#include "ProtocolBytes.hpp"
#include "protocol/DeflateOffer.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wharf;
using namespace wharf::test;
using Event = MessageAssembler::Event;

namespace {

const detail::MessageLimits bigLimits{1 << 20, 1 << 20, 1 << 20};

/// A compressed message as the peer of `role` sends it, from `deflater`.
std::string compressedFrame(Role role, detail::Deflater& deflater, std::string_view message, Opcode op = Opcode::Text)
{
    std::string compressed;
    REQUIRE(deflater.compress(message, compressed));
    return peerFrame(role, op, compressed, true, true);
}

const std::size_t pieces[] = {0, 1, 2, 3, 6, 17, 1000};

}  // namespace

TEST_SUITE("protocol: message assembler") {

TEST_CASE("a whole unfragmented frame is handed over without a copy")
{
    for (Role role : {Role::Server, Role::Client}) {
        MessageAssembler in(role, bigLimits);
        auto run = assembleInPieces(in, peerFrame(role, Opcode::Text, "hello") + peerFrame(role, Opcode::Binary, "bin"));
        REQUIRE_FALSE(run.failure);
        REQUIRE(run.events.size() == 2);
        CHECK(run.events[0].event == Event::Text);
        CHECK(run.events[0].data == "hello");
        CHECK(run.events[0].last);
        CHECK(run.events[0].zeroCopy);
        CHECK(run.events[1].event == Event::Binary);
        CHECK(run.events[1].zeroCopy);
    }
}

TEST_CASE("fragmented messages with control frames between fragments, in every split")
{
    for (Role role : {Role::Server, Role::Client}) {
        const std::string in = peerFrame(role, Opcode::Text, "Hel", false) + peerFrame(role, Opcode::Ping, "p1") +
                               peerFrame(role, Opcode::Continuation, "lo ", false) +
                               peerFrame(role, Opcode::Continuation, "\xE2\x82\xAC") +  // €
                               peerFrame(role, Opcode::Pong, "") + peerFrame(role, Opcode::Binary, std::string(200, 'b')) +
                               peerFrame(role, Opcode::Close, std::string("\x03\xE8", 2));
        for (auto piece : pieces) {
            CAPTURE(piece);
            MessageAssembler a(role, bigLimits);
            auto run = assembleInPieces(a, in, piece);
            REQUIRE_FALSE(run.failure);
            REQUIRE(run.events.size() == 5);
            CHECK(run.events[0].event == Event::Ping);
            CHECK(run.events[0].data == "p1");
            CHECK(run.events[1].event == Event::Text);
            CHECK(run.events[1].data == "Hello \xE2\x82\xAC");
            CHECK_FALSE(run.events[1].zeroCopy);
            CHECK(run.events[2].event == Event::Pong);
            CHECK(run.events[3].data == std::string(200, 'b'));
            CHECK(run.events[3].zeroCopy == (piece == 0 || piece == 1000));
            CHECK(run.events[4].event == Event::Close);
            CHECK(run.events[4].data == std::string("\x03\xE8", 2));
        }
    }
}

TEST_CASE("fragments: each frame is delivered, an unfinished code point waits for the next")
{
    for (Role role : {Role::Server, Role::Client}) {
        // "€" split across the first two fragments.
        const std::string in = peerFrame(role, Opcode::Text, "ab\xE2", false) +
                               peerFrame(role, Opcode::Continuation, "\x82\xAC" "c", false) +
                               peerFrame(role, Opcode::Continuation, "d");
        for (auto piece : pieces) {
            CAPTURE(piece);
            MessageAssembler a(role, bigLimits, nullptr, true);
            auto run = assembleInPieces(a, in, piece);
            if (run.failure) FAIL(run.failure->reason);
            REQUIRE(run.events.size() == 3);
            CHECK(run.events[0].data == "ab");
            CHECK_FALSE(run.events[0].last);
            CHECK(run.events[1].data == "\xE2\x82\xAC" "c");
            CHECK(run.events[2].data == "d");
            CHECK(run.events[2].last);
        }
    }
}

TEST_CASE("size limits: 1009 from the frame header, before the payload arrives")
{
    for (Role role : {Role::Server, Role::Client}) {
        const bool masked = role == Role::Server;
        SUBCASE("one text frame over the text limit")
        {
            MessageAssembler a(role, {100, 1000, 1000});
            auto run = assembleInPieces(a, rawFrame(0x81, 101, 7, masked));  // header only
            REQUIRE(run.failure);
            CHECK(run.failure->status == CloseStatus::MessageTooBig);
            CHECK(run.failure->error == Errc::MessageTooBig);
        }
        SUBCASE("fragments that add up past the binary limit")
        {
            MessageAssembler a(role, {1000, 100, 1000});
            auto run = assembleInPieces(a, peerFrame(role, Opcode::Binary, std::string(60, 'a'), false) +
                                               rawFrame(0x00, 41, 7, masked));
            REQUIRE(run.failure);
            CHECK(run.failure->status == CloseStatus::MessageTooBig);
        }
        SUBCASE("the frame limit")
        {
            MessageAssembler a(role, {1000, 1000, 10});
            auto run = assembleInPieces(a, rawFrame(0x82, 11, 7, masked));
            REQUIRE(run.failure);
            CHECK(run.failure->status == CloseStatus::MessageTooBig);
        }
        SUBCASE("exactly at the limit is fine")
        {
            MessageAssembler a(role, {100, 100, 100});
            auto run = assembleInPieces(a, peerFrame(role, Opcode::Text, std::string(100, 't')));
            CHECK_FALSE(run.failure);
            CHECK(run.events.size() == 1);
        }
    }
}

TEST_CASE("invalid UTF-8 fails with 1007 at the first bad byte, before the message ends")
{
    for (Role role : {Role::Server, Role::Client}) {
        MessageAssembler a(role, bigLimits);
        // The first fragment is already hopeless (0xC0 is never valid): no need to wait.
        auto run = assembleInPieces(a, peerFrame(role, Opcode::Text, "ok\xC0", false));
        REQUIRE(run.failure);
        CHECK(run.failure->status == CloseStatus::InvalidPayload);
        CHECK(run.failure->error == Errc::InvalidUtf8);

        MessageAssembler b(role, bigLimits);
        auto cut = assembleInPieces(b, peerFrame(role, Opcode::Text, "ends inside \xE2\x82"));
        REQUIRE(cut.failure);
        CHECK(cut.failure->reason == "text message ends inside a code point");

        // Binary messages are not checked.
        MessageAssembler c(role, bigLimits);
        CHECK_FALSE(assembleInPieces(c, peerFrame(role, Opcode::Binary, "\xC0\xFF")).failure);
    }
}

TEST_CASE("permessage-deflate: each role inflates its peer's messages")
{
    detail::DeflateParams params;
    for (Role role : {Role::Server, Role::Client}) {
        CAPTURE(int(role));
        // The peer's compressor keeps its context between messages.
        const Role peer = role == Role::Server ? Role::Client : Role::Server;
        auto deflater = detail::deflaterFor(params, peer);
        const std::string text = "compress me, compress me, compress me please";
        // One statement each: the compressor's context depends on the order.
        std::string in = compressedFrame(role, *deflater, text);
        in += compressedFrame(role, *deflater, text);
        in += compressedFrame(role, *deflater, std::string(3000, 'x'), Opcode::Binary);
        for (auto piece : pieces) {
            CAPTURE(piece);
            MessageAssembler a(role, bigLimits, &params);
            auto run = assembleInPieces(a, in, piece);
            if (run.failure) FAIL(run.failure->reason);
            REQUIRE(run.events.size() == 3);
            CHECK(run.events[0].data == text);
            CHECK(run.events[1].data == text);
            CHECK(run.events[2].event == Event::Binary);
            CHECK(run.events[2].data == std::string(3000, 'x'));
        }
    }
}

TEST_CASE("permessage-deflate: the inflater resets on the peer's no_context_takeover, not on ours")
{
    for (Role role : {Role::Server, Role::Client}) {
        CAPTURE(int(role));
        // Our side promised no context takeover; the peer did not: its second message may
        // refer back to the first, so our inflater must keep its window.
        detail::DeflateParams params;
        (role == Role::Server ? params.serverNoContextTakeover : params.clientNoContextTakeover) = true;
        detail::Deflater withContext(15, 8, false);
        const std::string text = "a sentence that the second message repeats";
        std::string in = compressedFrame(role, withContext, text);
        in += compressedFrame(role, withContext, text);
        MessageAssembler a(role, bigLimits, &params);
        auto run = assembleInPieces(a, in);
        REQUIRE_FALSE(run.failure);
        REQUIRE(run.events.size() == 2);
        CHECK(run.events[1].data == text);

        // And when the peer promised it, messages compressed afresh inflate too.
        detail::DeflateParams peerResets;
        (role == Role::Server ? peerResets.clientNoContextTakeover : peerResets.serverNoContextTakeover) = true;
        detail::Deflater fresh(15, 8, true);
        std::string in2 = compressedFrame(role, fresh, text);
        in2 += compressedFrame(role, fresh, text);
        MessageAssembler b(role, bigLimits, &peerResets);
        auto run2 = assembleInPieces(b, in2);
        REQUIRE_FALSE(run2.failure);
        CHECK(run2.events.size() == 2);
    }
}

TEST_CASE("permessage-deflate: a bomb fails with 1009 and garbage with 1007")
{
    detail::DeflateParams params;
    for (Role role : {Role::Server, Role::Client}) {
        auto deflater = detail::deflaterFor(params, role == Role::Server ? Role::Client : Role::Server);
        MessageAssembler a(role, {10000, 10000, 10000}, &params);
        auto run = assembleInPieces(a, compressedFrame(role, *deflater, std::string(1 << 20, 'z'), Opcode::Binary));
        REQUIRE(run.failure);
        CHECK(run.failure->status == CloseStatus::MessageTooBig);

        MessageAssembler b(role, bigLimits, &params);
        auto bad = assembleInPieces(b, peerFrame(role, Opcode::Binary, "\xFF\xFF\xFF\xFF garbage", true, true));
        REQUIRE(bad.failure);
        CHECK(bad.failure->status == CloseStatus::InvalidPayload);
        CHECK(bad.failure->error == Errc::CompressionError);

        MessageAssembler c(role, bigLimits);  // no deflate negotiated
        auto rsv1 = assembleInPieces(c, peerFrame(role, Opcode::Binary, "x", true, true));
        REQUIRE(rsv1.failure);
        CHECK(rsv1.failure->status == CloseStatus::ProtocolError);
    }
}

TEST_CASE("a control frame split across reads arrives whole")
{
    for (Role role : {Role::Server, Role::Client}) {
        const std::string payload(125, 'p');
        MessageAssembler a(role, bigLimits);
        auto run = assembleInPieces(a, peerFrame(role, Opcode::Ping, payload), 4);
        REQUIRE(run.events.size() == 1);
        CHECK(run.events[0].event == Event::Ping);
        CHECK(run.events[0].data == payload);
    }
}

TEST_CASE("discardData drops data messages but still parses and delivers control frames")
{
    for (Role role : {Role::Server, Role::Client}) {
        MessageAssembler a(role, bigLimits);
        a.discardData();
        auto run = assembleInPieces(a, peerFrame(role, Opcode::Text, "dropped", false) +
                                           peerFrame(role, Opcode::Continuation, "too") +
                                           peerFrame(role, Opcode::Close, ""));
        REQUIRE_FALSE(run.failure);
        REQUIRE(run.events.size() == 1);
        CHECK(run.events[0].event == Event::Close);
        // Framing errors still count.
        MessageAssembler b(role, bigLimits);
        b.discardData();
        CHECK(assembleInPieces(b, peerFrame(role, Opcode::Continuation, "x")).failure);
    }
}

}  // TEST_SUITE
