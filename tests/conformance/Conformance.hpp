#pragma once
// Shared helpers of the RFC 6455 / RFC 7692 conformance suite: an echo server per case,
// table-driven test registration (every table row becomes its own doctest TEST_CASE,
// so ctest lists and runs each row separately), the usual expectations, and a
// client-side permessage-deflate codec built on zlib.

#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <array>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace wharf::conformance {

using namespace std::chrono_literals;
using test::Frame;
using test::HttpResponse;
using test::RawClient;
using test::TestServer;

/// Short timeouts: expected frames arrive in milliseconds on loopback; silence checks wait this long.
inline constexpr auto kWait = 2000ms;
/// For echoes of several MiB: under ThreadSanitizer on a loaded machine a 5 MiB echo takes
/// ~1.5 s, too close to kWait.
inline constexpr auto kLargeWait = 10000ms;

/// The echo server's threads: 1, or WHARF_TEST_THREADS (scripts/sanitize.sh sets 2, so
/// the sanitizers see the suite's traffic cross threads as well).
inline unsigned serverThreads()
{
    const char* v = std::getenv("WHARF_TEST_THREADS");
    return v && std::atoi(v) > 0 ? static_cast<unsigned>(std::atoi(v)) : 1;
}

// ---------------------------------------------------------------------------------------
// Echo endpoint

// Echoes texts and binaries back (support/EchoListener.hpp).
using test::EchoListener;

using Tune = std::function<void(WebSocketServletFactory&)>;

/// A server with the echo listener at /echo, configured by `tune` (limits, deflate...).
struct EchoServer {
    explicit EchoServer(Tune tune = {})
        : server([tune](ServletContextHandler& context) {
              context.addWebSocket("/echo", [tune](WebSocketServletFactory& f) {
                  f.setCloseTimeout(std::chrono::milliseconds(1000));
                  if (tune) tune(f);
                  f.addMapping<EchoListener>("/");
              });
          }, serverThreads())
    {
    }
    std::uint16_t port() const { return server.port(); }
    /// A connected client past a successful handshake on /echo.
    RawClient open(std::string_view extraHeaders = {})
    {
        RawClient c(port());
        const auto r = c.handshake("/echo", extraHeaders);
        REQUIRE(r.status == 101);
        return c;
    }
    TestServer server;
};

// ---------------------------------------------------------------------------------------
// Expectations

/// The next frame is a data frame with this opcode and payload.
inline void expectEcho(RawClient& c, std::uint8_t opcode, const std::string& payload,
                       std::chrono::milliseconds wait = kWait)
{
    auto f = c.readFrame(wait);
    REQUIRE_MESSAGE(f, "no frame arrived");
    CHECK(int(f->opcode) == int(opcode));
    CHECK(f->fin);
    CHECK(!f->rsv1);
    CHECK(f->payload.size() == payload.size());
    CHECK(f->payload == payload);
}

/// The server sends a close frame with `code` (0: an empty close payload), with no data
/// frame before it unless `allowed` holds them, then closes TCP.
inline void expectClose(RawClient& c, std::uint16_t code, std::vector<Frame>* before = nullptr)
{
    std::vector<Frame> skipped;
    auto f = c.readUntilClose(kWait, &skipped);
    REQUIRE_MESSAGE(f, "no close frame arrived");
    CHECK(f->fin);
    CHECK(f->closeCode() == code);
    if (code == 0) CHECK(f->payload.empty());
    if (before) *before = std::move(skipped);
    else CHECK_MESSAGE(skipped.empty(), "data frames arrived before the close frame");
    CHECK_MESSAGE(c.waitForEof(kWait), "the server did not close TCP after the close frame");
}

/// A clean client-initiated close: 1000 is echoed and TCP closed.
inline void closeNormally(RawClient& c)
{
    c.sendClose(1000);
    expectClose(c, 1000);
}

/// Echo round trip proving the connection is still healthy, then a clean close.
inline void expectHealthy(RawClient& c)
{
    c.sendText("still alive");
    expectEcho(c, 0x1, "still alive");
    closeNormally(c);
}

// ---------------------------------------------------------------------------------------
// Table rows as test cases

namespace reg {

struct Row {
    std::string name;
    std::function<void()> run;
};

inline std::deque<Row>& rows()
{
    static std::deque<Row> r;
    return r;
}

template <std::size_t I>
void trampoline()
{
    rows().at(I).run();
}

inline constexpr std::size_t maxRows = 2048;

template <std::size_t... I>
constexpr std::array<void (*)(), sizeof...(I)> makeTrampolines(std::index_sequence<I...>)
{
    return {&trampoline<I>...};
}

inline const auto& trampolines()
{
    static const auto t = makeTrampolines(std::make_index_sequence<maxRows>{});
    return t;
}

/// Names go to doctest's -tc filter and ctest: keep them free of filter metacharacters.
inline std::string clean(std::string s)
{
    for (char& c : s)
        if (c == ',' || c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || c == '"' || c == ';' ||
            static_cast<unsigned char>(c) < 0x20)
            c = ' ';
    return s;
}

}  // namespace reg

/// Registers one test case named "<suite>: <name>" that runs `fn`.
inline int addCase(const char* suite, std::string name, std::function<void()> fn, const char* file, unsigned line)
{
    auto& rows = reg::rows();
    if (rows.size() >= reg::maxRows) throw std::logic_error("conformance: raise reg::maxRows");
    const auto index = rows.size();
    rows.push_back(reg::Row{reg::clean(name), std::move(fn)});
    static doctest::detail::TestSuite ts;
    ts = doctest::detail::TestSuite();
    ts* suite;
    doctest::detail::regTest(doctest::detail::TestCase(reg::trampolines()[index], file, line, ts) *
                             rows.back().name.c_str());
    return 0;
}

#define CONFORMANCE_CONCAT2(a, b) a##b
#define CONFORMANCE_CONCAT(a, b) CONFORMANCE_CONCAT2(a, b)
/// Runs a block at static initialisation that registers generated cases.
#define CONFORMANCE_TABLE(fn)                                                                  \
    static void fn();                                                                          \
    [[maybe_unused]] static const int CONFORMANCE_CONCAT(fn, _registered) = (fn(), 0);         \
    static void fn()
#define CONFORMANCE_ADD(suite, name, ...) ::wharf::conformance::addCase(suite, name, __VA_ARGS__, __FILE__, __LINE__)

// ---------------------------------------------------------------------------------------
// Bytes

inline std::string hex(std::string_view s)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

inline std::string pattern(std::size_t n, unsigned seed = 1)
{
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

/// ASCII letters (valid UTF-8) of length n.
inline std::string letters(std::size_t n)
{
    std::string s(n, 'a');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
}

/// A masked frame header announcing an arbitrary (possibly huge, never sent) length.
inline std::string frameHeader(std::uint8_t b0, std::uint64_t length) { return RawClient::buildHeader(b0, length); }

// ---------------------------------------------------------------------------------------
// Client side of permessage-deflate (RFC 7692 7.2)

class ClientDeflate {
public:
    explicit ClientDeflate(int windowBits = 15, bool resetEachMessage = false) : reset_(resetEachMessage)
    {
        if (deflateInit2(&z_, Z_BEST_COMPRESSION, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw std::runtime_error("deflateInit2");
    }
    ~ClientDeflate() { deflateEnd(&z_); }
    ClientDeflate(const ClientDeflate&) = delete;
    ClientDeflate& operator=(const ClientDeflate&) = delete;

    /// One message compressed, the trailing 00 00 ff ff removed (7.2.1).
    std::string compress(std::string_view in)
    {
        std::string out;
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z_.avail_in = static_cast<uInt>(in.size());
        char buf[16384];
        do {
            z_.next_out = reinterpret_cast<Bytef*>(buf);
            z_.avail_out = sizeof buf;
            deflate(&z_, Z_SYNC_FLUSH);
            out.append(buf, sizeof buf - z_.avail_out);
        } while (z_.avail_out == 0);
        REQUIRE(out.size() >= 4);
        REQUIRE(out.compare(out.size() - 4, 4, std::string("\x00\x00\xff\xff", 4)) == 0);
        out.resize(out.size() - 4);
        if (reset_) deflateReset(&z_);
        return out;
    }

private:
    z_stream z_{};
    bool reset_;
};

class ClientInflate {
public:
    ClientInflate()
    {
        if (inflateInit2(&z_, -15) != Z_OK) throw std::runtime_error("inflateInit2");
    }
    ~ClientInflate() { inflateEnd(&z_); }
    ClientInflate(const ClientInflate&) = delete;
    ClientInflate& operator=(const ClientInflate&) = delete;

    /// Inflates one whole message payload (the tail 00 00 ff ff appended, 7.2.2).
    std::string inflateMessage(std::string payload)
    {
        payload.append("\x00\x00\xff\xff", 4);
        std::string out;
        z_.next_in = reinterpret_cast<Bytef*>(payload.data());
        z_.avail_in = static_cast<uInt>(payload.size());
        char buf[16384];
        for (;;) {
            z_.next_out = reinterpret_cast<Bytef*>(buf);
            z_.avail_out = sizeof buf;
            const int rc = inflate(&z_, Z_SYNC_FLUSH);
            out.append(buf, sizeof buf - z_.avail_out);
            if (rc == Z_STREAM_END) inflateReset(&z_);
            else if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("inflate failed");
            if (z_.avail_in == 0 && z_.avail_out != 0) break;
        }
        return out;
    }

private:
    z_stream z_{};
};

/// Reads a whole (possibly fragmented, possibly compressed) message from the server.
inline std::optional<Frame> readMessage(RawClient& c, ClientInflate* inflater)
{
    auto first = c.readFrame(kWait);
    if (!first) return std::nullopt;
    Frame m = *first;
    while (!m.fin) {
        auto next = c.readFrame(kWait);
        if (!next) return std::nullopt;
        REQUIRE(next->opcode == 0x0);
        m.payload += next->payload;
        m.fin = next->fin;
    }
    if (m.rsv1) {
        REQUIRE(inflater);
        m.payload = inflater->inflateMessage(m.payload);
    }
    return m;
}

}  // namespace wharf::conformance
