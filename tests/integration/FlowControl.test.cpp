// Flow control (issue 10, item 4): send results that say why, suspend/resume of reading,
// onDrain after backpressure, a close that discards the queue, and the close timeout as
// an error the listener sees.

#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include "detail/WsConnection.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

std::function<void(ServletContextHandler&)> recordingSetup(Recorders& recorders,
                                                           std::function<void(WebSocketServletFactory&)> tune = {})
{
    return [&recorders, tune](ServletContextHandler& context) {
        context.addWebSocket("/rec", [&recorders, tune](WebSocketServletFactory& f) {
            if (tune) tune(f);
            f.addMapping("/", recorders.creator());
        });
    };
}

bool hasError(const RecordingListener::Events& e, Errc code)
{
    return std::any_of(e.errors.begin(), e.errors.end(), [&](const Error& x) { return x.code == make_error_code(code); });
}

/// Connects a raw client to /rec and waits for its listener's onConnect.
std::shared_ptr<RecordingListener> connect(RawClient& client, Recorders& recorders, std::size_t index)
{
    REQUIRE(client.handshake("/rec").status == 101);
    auto rec = recorders.at(index);
    REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
    return rec;
}

/// Sends 64 KiB binaries to a client that does not read until one is refused; returns the
/// bytes accepted. The last result is stored in `last`.
std::size_t fillQueue(const Session& session, SendResult& last)
{
    const std::string chunk(64 * 1024, 'q');
    std::size_t accepted = 0;
    for (int i = 0; i < 2048; ++i) {
        last = session.sendBinary(chunk);
        if (!last) break;
        accepted += chunk.size();
    }
    return accepted;
}

}  // namespace

TEST_SUITE("flow control")
{
    TEST_CASE("a send result says why a send was refused")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setMaxSendQueueSize(256 * 1024); }));
        RawClient client(server.port());
        auto rec = connect(client, recorders, 0);
        auto session = rec->session();

        CHECK(session.sendText("fine").queued());
        CHECK(session.sendText("fine").error() == std::error_code());

        std::error_code seen;
        const auto tooLong = session.sendPing(std::string(126, 'x'), [&](std::error_code ec) { seen = ec; });
        CHECK_FALSE(tooLong);
        CHECK(tooLong.error() == Errc::InvalidArgument);
        CHECK(seen == Errc::InvalidArgument);

        SendResult last;
        fillQueue(session, last);
        CHECK(last.error() == Errc::SendQueueFull);

        session.close();
        const auto afterClose = session.sendText("too late");
        CHECK(afterClose.error() == Errc::SessionClosed);
        CHECK(Session().sendText("nobody").error() == Errc::SessionClosed);
    }

    TEST_CASE("a suspended session delivers nothing until resume, then everything in order")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders));
        RawClient client(server.port());
        auto rec = connect(client, recorders, 0);
        rec->onTextHook = [](Session& s, std::string_view text) {
            if (text == "1") s.suspend();  // from the callback: takes effect at once
        };
        // Three messages in one write: the second and third are in the same read as the first.
        client.sendRaw(RawClient::buildFrame(0x1, "1") + RawClient::buildFrame(0x1, "2") + RawClient::buildFrame(0x1, "3"));
        REQUIRE(rec->waitFor([](const auto& e) { return e.texts.size() == 1; }));
        CHECK_FALSE(rec->waitFor([](const auto& e) { return e.texts.size() > 1; }, 300ms));

        rec->session().resume();
        REQUIRE(rec->waitFor([](const auto& e) { return e.texts.size() == 3; }));
        CHECK(rec->snapshot().texts == std::vector<std::string>{"1", "2", "3"});

        // From another thread: messages that arrive later wait in the socket.
        rec->session().suspend();
        client.sendText("4");
        client.sendText("5");
        CHECK_FALSE(rec->waitFor([](const auto& e) { return e.texts.size() > 3; }, 300ms));
        rec->session().resume();
        REQUIRE(rec->waitFor([](const auto& e) { return e.texts.size() == 5; }));
        CHECK(rec->snapshot().texts == std::vector<std::string>{"1", "2", "3", "4", "5"});
        CHECK(rec->session().isOpen());
        CHECK_FALSE(rec->snapshot().concurrent);
    }

    TEST_CASE("suspend and resume over TLS")
    {
        // The TLS stream reads through OpenSSL: what was decrypted before the suspend is
        // kept and delivered first, and reading goes on after resume.
        Recorders recorders;
        TestServer server(recordingSetup(recorders), 2, [](Server& s) {
            ServerConnector tls;
            tls.host = "127.0.0.1";
            tls.port = 0;
            tls.ssl = TlsTestCerts::get().sslConfig();
            s.addConnector(tls);
        });
        TlsClient client(server.server().port(1), TlsTestCerts::get().caCertificate);
        client.upgrade("/rec");
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        rec->onTextHook = [](Session& s, std::string_view text) {
            if (text == "1") s.suspend();
        };
        for (const char* t : {"1", "2", "3"}) client.sendText(t);
        REQUIRE(rec->waitFor([](const auto& e) { return e.texts.size() == 1; }));
        CHECK_FALSE(rec->waitFor([](const auto& e) { return e.texts.size() > 1; }, 300ms));
        rec->session().resume();
        REQUIRE(rec->waitFor([](const auto& e) { return e.texts.size() == 3; }));
        CHECK(rec->snapshot().texts == std::vector<std::string>{"1", "2", "3"});
        client.sendText("4");
        REQUIRE(rec->waitFor([](const auto& e) { return e.texts.size() == 4; }));
    }

    TEST_CASE("a suspended session still closes: the idle timeout runs")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setIdleTimeout(300ms); }));
        RawClient client(server.port());
        auto rec = connect(client, recorders, 0);
        rec->session().suspend();
        auto close = client.readUntilClose(3s);
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
    }

    TEST_CASE("onDrain comes once the queue has emptied after backpressure, and not without it")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setMaxSendQueueSize(1024 * 1024); }));
        RawClient client(server.port());
        auto rec = connect(client, recorders, 0);
        auto session = rec->session();

        // No backpressure: the socket takes a small message at once.
        REQUIRE(session.sendText("small"));
        REQUIRE(client.readFrame());
        CHECK_FALSE(rec->waitFor([](const auto& e) { return e.drains > 0; }, 200ms));

        SendResult last;
        const std::size_t accepted = fillQueue(session, last);
        REQUIRE(last.error() == Errc::SendQueueFull);
        CHECK(rec->snapshot().drains == 0);
        // The client reads everything; the server hears that its queue drained.
        std::size_t received = 0;
        while (received < accepted) {
            auto frame = client.readFrame(5s);
            REQUIRE(frame);
            received += frame->payload.size();
        }
        REQUIRE(rec->waitFor([](const auto& e) { return e.drains > 0; }));
        CHECK(rec->snapshot().drains == 1);
        CHECK(session.bufferedAmount() == 0);
        CHECK(session.sendText("more").queued());
    }

    TEST_CASE("close with DiscardQueued sends the close frame without the queue in front of it")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) {
            f.setMaxSendQueueSize(64 * 1024 * 1024);
            f.setCloseTimeout(10s);
        }));
        RawClient client(server.port());
        auto rec = connect(client, recorders, 0);
        auto session = rec->session();
        const std::string chunk(64 * 1024, 'q');
        // First the kernel's buffers fill and a write waits for the client, which does not
        // read: until what is queued stops shrinking.
        std::size_t accepted = 0;
        for (std::size_t last = 0, steady = 0; steady < 10 && accepted < 48 * 1024 * 1024;) {
            REQUIRE(session.sendBinary(chunk));
            accepted += chunk.size();
            std::this_thread::sleep_for(5ms);
            const std::size_t now = session.bufferedAmount();
            steady = now > 0 && now >= last ? steady + 1 : 0;
            last = now;
        }
        // Then a queue behind that write: these are the sends the close discards.
        std::mutex mutex;
        std::vector<std::error_code> results;
        for (int i = 0; i < 16; ++i) {
            REQUIRE(session.sendBinary(chunk, [&](std::error_code ec) {
                std::lock_guard lock(mutex);
                results.push_back(ec);
            }));
            accepted += chunk.size();
        }

        session.close(CloseStatus::PolicyViolation, "too slow", CloseMode::DiscardQueued);
        // The dropped sends learn it at once, though the client has not read a byte.
        auto discarded = [&] {
            std::lock_guard lock(mutex);
            return std::count(results.begin(), results.end(), make_error_code(Errc::SessionClosed));
        };
        for (int i = 0; i < 500 && discarded() < 16; ++i) std::this_thread::sleep_for(10ms);
        CHECK(discarded() == 16);

        std::vector<Frame> before;
        auto close = client.readUntilClose(10s, &before);
        REQUIRE(close);
        CHECK(close->closeCode() == 1008);
        std::size_t received = 0;
        for (const auto& f : before) received += f.payload.size();
        CHECK(received + 16 * chunk.size() <= accepted);  // the discarded sends never came
        client.sendClose(1008);
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeStatus.has_value(); }, 3s));  // not the 10 s timeout
        CHECK(*rec->snapshot().closeStatus == CloseStatus::PolicyViolation);
    }

    TEST_CASE("a peer that never answers our close frame: onError gets CloseTimeout, then onClose")
    {
        Recorders recorders;
        TestServer server(recordingSetup(recorders, [](WebSocketServletFactory& f) { f.setCloseTimeout(300ms); }));
        RawClient client(server.port());
        auto rec = connect(client, recorders, 0);
        rec->session().close(CloseStatus::Normal, "bye");
        auto close = client.readFrame();
        REQUIRE(close);
        CHECK(close->opcode == 0x8);
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeStatus.has_value(); }, 3s));
        const auto e = rec->snapshot();
        CHECK(hasError(e, Errc::CloseTimeout));
        CHECK(*e.closeStatus == CloseStatus::Normal);
        CHECK(e.order.back() == "close");
    }

    TEST_CASE("an idle connection does not keep the send buffer of another connection's burst")
    {
        // One thread: both connections write through the same thread batch.
        Recorders recorders;
        TestServer server(recordingSetup(recorders), 1);
        RawClient bursty(server.port());
        auto big = connect(bursty, recorders, 0);
        RawClient quiet(server.port());
        auto small = connect(quiet, recorders, 1);

        std::promise<void> written;
        // From this thread (not the connection's), so the 32 KiB frame goes through the
        // connection's buffer and the thread batch, not straight from this string.
        REQUIRE(big->session().sendBinary(std::string(32 * 1024, 'b'), [&](std::error_code) { written.set_value(); }));
        REQUIRE(written.get_future().wait_for(5s) == std::future_status::ready);
        std::promise<void> written2;
        REQUIRE(small->session().sendText("hi", [&](std::error_code) { written2.set_value(); }));
        REQUIRE(written2.get_future().wait_for(5s) == std::future_status::ready);

        auto connection = detail::SessionAccess::connection(small->session());
        REQUIRE(connection);
        // Before: the quiet connection got the 32 KiB buffer back in exchange for its own.
        CHECK(connection->sendCapacity() <= 1024);
    }
}
