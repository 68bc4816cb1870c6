// Keep-alive pings (WebSocketServletFactory::setPingInterval / setPongTimeout,
// Session::setPingInterval) and what the idle timeout counts (setResetIdleTimeoutOnSend):
// what a client sees.
#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint8_t pingOpcode = 0x9;
constexpr std::uint8_t closeOpcode = 0x8;

std::unique_ptr<TestServer> server(Recorders& recorders, const std::function<void(WebSocketServletFactory&)>& configure)
{
    return std::make_unique<TestServer>([&](ServletContextHandler& context) {
        context.addWebSocket("/rec", [&](WebSocketServletFactory& f) {
            configure(f);
            f.addMapping("/", recorders.creator());
        });
    });
}

/// Pings after 200 ms of silence, drops after 300 ms more.
std::unique_ptr<TestServer> pingingServer(Recorders& recorders, std::chrono::milliseconds idleTimeout)
{
    return server(recorders, [idleTimeout](WebSocketServletFactory& f) {
        f.setIdleTimeout(idleTimeout);
        f.setPingInterval(200ms);
        f.setPongTimeout(300ms);
    });
}

/// Reads frames for `span`, answering pings with pongs; returns the close frame if one
/// came (the connection's end), nullopt if the span passed without one.
std::optional<Frame> answerPingsFor(RawClient& client, std::chrono::milliseconds span, int& pings)
{
    const auto end = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < end) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        const auto frame = client.readFrame(std::max(left, 1ms));
        if (!frame) continue;
        if (frame->opcode == closeOpcode) return frame;
        if (frame->opcode == pingOpcode) {
            ++pings;
            client.sendFrame(0xA, frame->payload);
        }
    }
    return std::nullopt;
}

}  // namespace

TEST_SUITE("keep-alive") {

TEST_CASE("a peer that does not answer the keep-alive ping is dropped: onError(PongTimeout), onClose 1006")
{
    Recorders recorders;
    auto s = pingingServer(recorders, 30s);
    RawClient client(s->port());
    REQUIRE(client.handshake("/rec").status == 101);
    const auto ping = client.readFrame(3s);
    REQUIRE(ping);
    CHECK(ping->opcode == pingOpcode);
    // Never answered: the TCP connection ends, without a close frame.
    const auto after = client.readFrame(3s);
    CHECK_FALSE(after);
    CHECK(client.waitForEof(1s));
    auto rec = recorders.at(0);
    REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
    const auto e = rec->snapshot();
    CHECK(e.closeStatus == CloseStatus::Abnormal);
    REQUIRE(e.errors.size() == 1);
    CHECK(e.errors[0].code == make_error_code(Errc::PongTimeout));
}

TEST_CASE("a peer that answers the pings stays open, and its pongs do not count for the idle timeout")
{
    Recorders recorders;
    auto s = pingingServer(recorders, 1500ms);
    RawClient client(s->port());
    REQUIRE(client.handshake("/rec").status == 101);
    int pings = 0;
    // Well past the pong timeout, answering: open.
    CHECK_FALSE(answerPingsFor(client, 1000ms, pings));
    CHECK(pings >= 3);
    // Still answering, but sending nothing else: the idle timeout closes it with 1001.
    const auto close = answerPingsFor(client, 3000ms, pings);
    REQUIRE(close);
    CHECK(close->closeCode() == 1001);
    CHECK(close->closeReason() == "idle timeout");
    auto rec = recorders.at(0);
    CHECK(rec->snapshot().errors.empty());
}

TEST_CASE("Session::setPingInterval turns pings on for one session")
{
    Recorders recorders;
    auto s = server(recorders, [](WebSocketServletFactory&) {});
    RawClient quiet(s->port());
    REQUIRE(quiet.handshake("/rec").status == 101);
    RawClient pinged(s->port());
    REQUIRE(pinged.handshake("/rec").status == 101);
    auto rec = recorders.at(1);
    REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
    rec->session().setPingInterval(100ms);
    const auto ping = pinged.readFrame(3s);
    REQUIRE(ping);
    CHECK(ping->opcode == pingOpcode);
    CHECK_FALSE(quiet.readFrame(300ms));  // the factory's default: no pings
}

TEST_CASE("a suspended session is not pinged, so it is not dropped for answers it would not read")
{
    Recorders recorders;
    auto s = pingingServer(recorders, 30s);
    RawClient client(s->port());
    REQUIRE(client.handshake("/rec").status == 101);
    auto rec = recorders.at(0);
    REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
    rec->session().suspend();
    CHECK_FALSE(client.readFrame(1000ms));  // no ping in five intervals ...
    CHECK(rec->snapshot().closeCount == 0);  // ... and no drop
    rec->session().resume();
    const auto ping = client.readFrame(3s);
    REQUIRE(ping);
    CHECK(ping->opcode == pingOpcode);
}

TEST_CASE("setResetIdleTimeoutOnSend(false): a client that only receives is closed by the idle timeout")
{
    for (const bool resetOnSend : {false, true}) {
        CAPTURE(resetOnSend);
        Recorders recorders;
        auto s = server(recorders, [&](WebSocketServletFactory& f) {
            f.setIdleTimeout(600ms);
            f.setResetIdleTimeoutOnSend(resetOnSend);
        });
        RawClient client(s->port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        // A feed: the server sends every 50 ms; the client sends nothing.
        std::atomic<bool> feeding{true};
        std::thread feed([&] {
            while (feeding && rec->session().sendText("tick")) std::this_thread::sleep_for(50ms);
        });
        std::vector<Frame> ticks;
        const auto close = client.readUntilClose(2000ms, &ticks);
        feeding = false;
        feed.join();
        CHECK(!ticks.empty());
        if (resetOnSend) {
            CHECK_FALSE(close);  // the server's own sends keep it open
        } else {
            REQUIRE(close);
            CHECK(close->closeCode() == 1001);
        }
    }
}

}  // TEST_SUITE
