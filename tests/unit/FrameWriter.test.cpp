#include "protocol/FrameWriter.hpp"

#include "ProtocolBytes.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace wharf;
using namespace wharf::test;

namespace {

std::uint32_t asNumber(const MaskKey& k) { return std::uint32_t(k[0]) << 24 | k[1] << 16 | k[2] << 8 | k[3]; }

}  // namespace

TEST_SUITE("protocol: frame writer") {

TEST_CASE("the server role writes unmasked frames with minimal lengths")
{
    const FrameWriter writer(Role::Server);
    for (std::size_t n : {std::size_t(0), std::size_t(125), std::size_t(126), std::size_t(0xFFFF),
                          std::size_t(0x10000)}) {
        CAPTURE(n);
        std::string out;
        writer.appendFrame(out, Opcode::Binary, std::string(n, 'z'));
        const std::size_t header = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
        CHECK(writer.headerSize(n) == header);
        REQUIRE(out.size() == header + n);
        CHECK(std::uint8_t(out[0]) == 0x82);
        CHECK((std::uint8_t(out[1]) & 0x80) == 0);
        CHECK((std::uint8_t(out[1]) & 0x7F) == (n < 126 ? n : n <= 0xFFFF ? 126 : 127));
        CHECK(out.substr(header) == std::string(n, 'z'));
        // The client-role parser takes it (it would fail a non-minimal length).
        FrameParser parser(Role::Client, 1 << 20);
        auto run = parseInPieces(parser, out);
        REQUIRE_FALSE(run.failure);
        CHECK(run.frames.at(0).payload == std::string(n, 'z'));
    }
    std::string flags;
    writer.appendFrame(flags, Opcode::Text, "x", false, true);
    CHECK(std::uint8_t(flags[0]) == 0x41);
}

TEST_CASE("the client role masks every frame and the server-role parser unmasks it")
{
    const FrameWriter writer(Role::Client);
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(8), std::size_t(125),
                          std::size_t(126), std::size_t(1000), std::size_t(0x10000)}) {
        CAPTURE(n);
        std::string payload(n, '\0');
        for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>(i * 31 + 7);
        std::string out;
        writer.appendFrame(out, Opcode::Binary, payload);
        CHECK(writer.headerSize(n) == (n < 126 ? 6u : n <= 0xFFFF ? 8u : 14u));
        CHECK((std::uint8_t(out[1]) & 0x80) == 0x80);
        FrameParser parser(Role::Server, 1 << 20);
        for (std::size_t piece : {std::size_t(0), std::size_t(1), std::size_t(5)}) {
            FrameParser p(Role::Server, 1 << 20);
            auto run = parseInPieces(p, out, piece);
            REQUIRE_FALSE(run.failure);
            CHECK(run.frames.at(0).payload == payload);
        }
    }
}

TEST_CASE("writeHeader hands out the key it wrote, and writeFrame writes what appendFrame does")
{
    const FrameWriter writer(Role::Client);
    char buf[detail::maxFrameHeader];
    MaskKey key{};
    const auto n = writer.writeHeader(buf, Opcode::Text, 300, true, false, key);
    REQUIRE(n == 8);
    CHECK(std::memcmp(buf + 4, key.data(), 4) == 0);

    std::string payload = "the quick brown fox";
    std::string framed(writer.headerSize(payload.size()) + payload.size(), '\0');
    CHECK(writer.writeFrame(framed.data(), Opcode::Text, payload) == framed.size());
    FrameParser parser(Role::Server, 1 << 20);
    CHECK(parseInPieces(parser, framed).frames.at(0).payload == payload);
}

TEST_CASE("mask keys differ from frame to frame (RFC 6455 5.3)")
{
    const FrameWriter writer(Role::Client);
    std::set<std::uint32_t> keys;
    for (int i = 0; i < 2000; ++i) {
        std::string out;
        writer.appendFrame(out, Opcode::Text, "same payload");
        MaskKey k;
        std::memcpy(k.data(), out.data() + 2, 4);
        keys.insert(asNumber(k));
    }
    // 2000 draws of 32 random bits: a repeat is possible but rare (p ~ 0.05%).
    CHECK(keys.size() >= 1998);
}

TEST_CASE("threads draw different keys")
{
    std::uint32_t mine = asNumber(detail::nextMaskKey());
    std::uint32_t theirs = 0;
    std::thread([&] { theirs = asNumber(detail::nextMaskKey()); }).join();
    std::uint32_t again = asNumber(detail::nextMaskKey());
    CHECK(mine != theirs);
    CHECK(again != theirs);
}

TEST_CASE("a forked child does not reuse the keys its parent will draw")
{
    (void)detail::nextMaskKey();  // the pool is filled
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        MaskKey k[4] = {detail::nextMaskKey(), detail::nextMaskKey(), detail::nextMaskKey(), detail::nextMaskKey()};
        (void)!write(fds[1], k, sizeof k);
        _exit(0);
    }
    close(fds[1]);
    MaskKey child[4];
    REQUIRE(read(fds[0], child, sizeof child) == sizeof child);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    MaskKey parent[4] = {detail::nextMaskKey(), detail::nextMaskKey(), detail::nextMaskKey(), detail::nextMaskKey()};
    CHECK(std::memcmp(parent, child, sizeof parent) != 0);
}

TEST_CASE("copyMasked equals copy then applyMask")
{
    const MaskKey key{0xA1, 0x02, 0xF3, 0x44};
    for (std::size_t n = 0; n <= 40; ++n) {
        std::string src(n, '\0');
        for (std::size_t i = 0; i < n; ++i) src[i] = static_cast<char>(i * 13);
        std::string viaCopy(n, '\0');
        detail::copyMasked(viaCopy.data(), src.data(), n, key);
        std::string inPlace = src;
        detail::applyMask(inPlace.data(), n, key.data(), 0);
        CHECK(viaCopy == inPlace);
    }
}

}  // TEST_SUITE
