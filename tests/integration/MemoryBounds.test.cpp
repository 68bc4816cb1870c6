// What a hostile or stalled client can make the server hold (issue 9, items 1 and 7): one
// pong at most, the application's control frames against the send queue, a time limit on
// unfinished messages, and the server-wide send and receive budgets.

#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace wharf;
using namespace wharf::test;

namespace {

/// A server whose /rec mapping records every connection; `tune` sets the factory up.
std::function<void(ServletContextHandler&)> recordingSetup(Recorders& recorders,
                                                           std::function<void(WebSocketServletFactory&)> tune)
{
    return [&recorders, tune](ServletContextHandler& context) {
        context.addWebSocket("/rec", [&recorders, tune](WebSocketServletFactory& f) {
            tune(f);
            f.addMapping("/", recorders.creator());
        });
    };
}

bool hasError(const RecordingListener::Events& e, Errc code)
{
    return std::any_of(e.errors.begin(), e.errors.end(), [&](const Error& x) { return x.code == make_error_code(code); });
}

/// Queues binaries on `session` (whose client does not read) until one is refused, then
/// smaller ones until the queue has less than 26 bytes of room; the kernel's buffers take
/// the first few MiB. Returns how many 64 KiB sends were accepted.
int fillUntilRefused(const Session& session, int maxSends = 1024)
{
    int accepted = 0;
    for (const std::size_t size : {64 * 1024, 4 * 1024, 256, 16}) {
        const std::string chunk(size, 'q');
        for (int i = 0; i < maxSends && session.sendBinary(chunk); ++i)
            if (size == 64 * 1024) ++accepted;
    }
    return accepted;
}

}  // namespace

TEST_SUITE("memory bounds")
{
    TEST_CASE("a peer that pings and never reads gets one pending pong, not one per ping")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory&) {}));
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        // 24 MiB of pings: far more pongs than the kernel's buffers on both sides can take
        // (4 MiB send buffer at most here), then a text that says they were all read.
        const std::string ping = RawClient::buildFrame(0x9, std::string(125, 'p'));
        std::string burst;
        for (int i = 0; i < 1024; ++i) burst += ping;
        for (int i = 0; i < 192; ++i) client.sendRaw(burst);
        client.sendText("done");
        REQUIRE(rec->waitFor([](const auto& e) { return !e.texts.empty(); }, std::chrono::seconds(20)));
        // Before: every pong was queued (~20 MiB here). Now: the batch in flight (at most
        // the pongs of one 256 KiB read) and one pending pong.
        CHECK(rec->session().bufferedAmount() < 512 * 1024);
        CHECK(rec->session().isOpen());
    }

    TEST_CASE("the application's pings count against the send queue")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setMaxSendQueueSize(256 * 1024); }));
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        auto session = rec->session();
        fillUntilRefused(session);
        std::error_code result;
        CHECK_FALSE(session.sendPing(std::string(125, '?'), [&](std::error_code ec) { result = ec; }));
        CHECK(result == make_error_code(Errc::SendQueueFull));
        CHECK_FALSE(session.sendPong(std::string(125, '!'), [&](std::error_code ec) { result = ec; }));
        CHECK(result == make_error_code(Errc::SendQueueFull));
    }

    TEST_CASE("a message not complete within the message timeout closes with 1008")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) {
            f.setIdleTimeout(std::chrono::seconds(30));
            f.setMessageTimeout(std::chrono::milliseconds(300));
        }));
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        SUBCASE("a complete message in time is delivered")
        {
            client.sendFrame(0x1, "hel", false);
            client.sendFrame(0x0, "lo", true);
            REQUIRE(rec->waitFor([](const auto& e) { return !e.texts.empty(); }));
            CHECK(rec->snapshot().texts.front() == "hello");
        }
        SUBCASE("a fragment whose message never ends")
        {
            client.sendFrame(0x1, "the start of a message", false);
            auto close = client.readUntilClose(std::chrono::seconds(3));
            REQUIRE(close);
            CHECK(close->closeCode() == 1008);
            REQUIRE(rec->waitFor([](const auto& e) { return e.closeStatus.has_value(); }));
            const auto e = rec->snapshot();
            CHECK(*e.closeStatus == CloseStatus::PolicyViolation);
            CHECK(hasError(e, Errc::MessageTimeout));
            CHECK(e.texts.empty());
        }
    }

    TEST_CASE("over the server's send budget, the session holding the most is closed")
    {
        Recorders recorders;
        TestServer server(
            recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setMaxSendQueueSize(64 * 1024 * 1024); }), 2,
            [](Server& s) {
                WebSocketMemoryLimits limits;
                limits.maxQueuedBytes = 2 * 1024 * 1024;
                s.setWebSocketMemoryLimits(limits);
            });
        RawClient stalled(server.port());
        REQUIRE(stalled.handshake("/rec").status == 101);
        auto big = recorders.at(0);
        REQUIRE(big->waitFor([](const auto& e) { return e.connected; }));
        RawClient reader(server.port());
        REQUIRE(reader.handshake("/rec").status == 101);
        auto small = recorders.at(1);
        REQUIRE(small->waitFor([](const auto& e) { return e.connected; }));

        // The stalled client's queue grows past the budget (its per-session limit is far
        // higher): it is the one closed, and sends to it are refused from then on.
        const int accepted = fillUntilRefused(big->session());
        CHECK(accepted < 1024);
        REQUIRE(big->waitFor([](const auto& e) { return e.closeStatus.has_value(); }));
        const auto e = big->snapshot();
        CHECK(*e.closeStatus == CloseStatus::PolicyViolation);
        CHECK(hasError(e, Errc::MemoryBudgetExceeded));
        CHECK_FALSE(big->session().isOpen());

        // The other session is untouched.
        CHECK(small->session().sendText("still served"));
        auto frame = reader.readFrame();
        REQUIRE(frame);
        CHECK(frame->payload == "still served");
        CHECK(small->snapshot().errors.empty());
    }

    TEST_CASE("over the server's receive budget, the session holding the most closes with 1009")
    {
        Recorders recorders;
        TestServer server(
            recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setMaxMessageSize(16 * 1024 * 1024); }), 2,
            [](Server& s) {
                WebSocketMemoryLimits limits;
                limits.maxPartialMessageBytes = 1024 * 1024;
                s.setWebSocketMemoryLimits(limits);
            });
        RawClient modest(server.port());
        REQUIRE(modest.handshake("/rec").status == 101);
        auto modestRec = recorders.at(0);
        RawClient hoarder(server.port());
        REQUIRE(hoarder.handshake("/rec").status == 101);
        auto hoarderRec = recorders.at(1);
        REQUIRE(modestRec->waitFor([](const auto& e) { return e.connected; }));
        REQUIRE(hoarderRec->waitFor([](const auto& e) { return e.connected; }));

        modest.sendFrame(0x2, std::string(16 * 1024, 'm'), false);
        // Unfinished fragments, each within the message limit, past the budget together.
        const std::string fragment(256 * 1024, 'h');
        hoarder.sendFrame(0x2, fragment, false);
        for (int i = 0; i < 7; ++i) hoarder.sendFrame(0x0, fragment, false);
        auto close = hoarder.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == 1009);
        REQUIRE(hoarderRec->waitFor([](const auto& e) { return e.closeStatus.has_value(); }));
        CHECK(hasError(hoarderRec->snapshot(), Errc::MemoryBudgetExceeded));

        // The modest session finishes its message as if nothing happened.
        modest.sendFrame(0x0, "end", true);
        REQUIRE(modestRec->waitFor([](const auto& e) { return !e.binaries.empty(); }));
        CHECK(modestRec->snapshot().binaries.front().size() == 16 * 1024 + 3);
        CHECK_FALSE(modestRec->snapshot().closeStatus);
    }
}
