// Server::stop() as sessions see it: called from a server thread, past its deadlines
// while a callback is busy, and the Errc::ServerStopping it reports.

#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <future>
#include <memory>
#include <thread>

using namespace wharf;
using namespace wharf::test;

namespace {

bool connected(const RecordingListener::Events& e) { return e.connected; }

/// A server with a RecordingListener per connection at /rec.
std::unique_ptr<TestServer> recordingServer(Recorders& recorders, unsigned threads = 2,
                                            const std::function<void(Server&)>& configure = {})
{
    return std::make_unique<TestServer>(
        [&](ServletContextHandler& context) {
            context.addWebSocket("/rec", [&](WebSocketServletFactory& f) { f.addMapping("/", recorders.creator()); });
        },
        threads, configure);
}

/// Runs f on a thread of its own and waits up to `timeout` for it to return; rethrows what
/// it threw. False when it did not return in time: the thread is left behind then, and the
/// caller must leak what it uses (a deadlocked server cannot be destroyed).
bool returnsWithin(std::chrono::milliseconds timeout, std::function<void()> f)
{
    std::packaged_task<void()> task(std::move(f));
    auto result = task.get_future();
    std::thread(std::move(task)).detach();
    if (result.wait_for(timeout) != std::future_status::ready) return false;
    result.get();
    return true;
}

}  // namespace

TEST_SUITE("stop")
{
    TEST_CASE("stop() from a listener callback returns, closes with 1001, and join() returns")
    {
        unsigned threads = 1;
        SUBCASE("one server thread") { threads = 1; }
        SUBCASE("two server threads") { threads = 2; }
        CAPTURE(threads);
        Recorders recorders;
        auto server = recordingServer(recorders, threads);
        RawClient client(server->port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor(connected));
        std::atomic<bool> stopReturned{false};
        rec->onTextHook = [&](Session&, std::string_view) {
            server->server().stop();
            stopReturned = true;
        };
        client.sendText("stop");
        const auto close = client.readUntilClose();
        CHECK((close && close->closeCode() == 1001));
        client.sendClose(1001);
        const bool joined = returnsWithin(std::chrono::seconds(5), [&] { server->server().join(); });
        CHECK(joined);
        if (!joined) {
            (void)server.release();  // deadlocked: cannot be destroyed (nor asked isRunning())
            return;
        }
        CHECK(stopReturned);
        const auto events = rec->snapshot();
        CHECK(events.errors.empty());  // stop() did not throw out of onText
        CHECK(events.closeCount == 1);
        CHECK(events.closeStatus == CloseStatus::GoingAway);
        CHECK_FALSE(server->server().isRunning());
    }

    TEST_CASE("stop() from a servlet answers its request, and join() returns")
    {
        class StopServlet : public HttpServlet {
        public:
            explicit StopServlet(Server*& server) : server_(server) {}
            void doGet(Request&, Response& response) override
            {
                server_->stop();
                response.setBody("stopping");
            }

        private:
            Server*& server_;
        };
        Server* target = nullptr;
        auto server = std::make_unique<TestServer>(
            [&](ServletContextHandler& context) { context.addServlet("/stop", std::make_shared<StopServlet>(target)); },
            1);
        target = &server->server();
        RawClient client(server->port());
        HttpResponse response;  // status 0 when no answer came
        try {
            response = client.get("/stop");
        } catch (const std::exception&) {
        }
        CHECK(response.status == 200);
        CHECK(response.body == "stopping");
        const bool joined = returnsWithin(std::chrono::seconds(5), [&] { server->server().join(); });
        CHECK(joined);
        if (!joined) (void)server.release();  // deadlocked: cannot be destroyed
    }

    TEST_CASE("stop() from another thread after a stop() from a callback waits until the server stopped")
    {
        Recorders recorders;
        auto server = recordingServer(recorders, 1);
        RawClient client(server->port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor(connected));
        std::promise<void> stopCalled;
        rec->onTextHook = [&](Session&, std::string_view) {
            server->server().stop();
            stopCalled.set_value();
        };
        client.sendText("stop");
        if (stopCalled.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
            FAIL_CHECK("stop() from the callback did not return");
            (void)server.release();  // deadlocked: cannot be destroyed
            return;
        }
        auto secondStop = std::async(std::launch::async, [&] { server->server().stop(); });
        // The session is still closing (the client has not answered): the second stop()
        // waits for it.
        CHECK(secondStop.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
        const auto close = client.readUntilClose();
        CHECK((close && close->closeCode() == 1001));
        client.sendClose(1001);
        CHECK(secondStop.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
        CHECK(rec->snapshot().closeCount == 1);
    }

    TEST_CASE("every onConnect gets one onClose when a callback outlasts the stop's deadlines")
    {
        Recorders recorders;
        auto server = recordingServer(recorders, 2, [](Server& s) { s.setStopTimeout(std::chrono::milliseconds(100)); });
        RawClient busyClient(server->port());
        RawClient silentClient(server->port());  // never answers the 1001
        REQUIRE(busyClient.handshake("/rec").status == 101);
        auto busy = recorders.at(0);
        REQUIRE(silentClient.handshake("/rec").status == 101);
        auto silent = recorders.at(1);
        REQUIRE(busy->waitFor(connected));
        REQUIRE(silent->waitFor(connected));
        std::promise<void> inside;
        busy->onTextHook = [&](Session&, std::string_view) {
            inside.set_value();
            // Busy past the stop timeout (100 ms) and the second after it for forced closes:
            // the forced close's teardown is still queued behind this callback then.
            std::this_thread::sleep_for(std::chrono::seconds(2));
        };
        busyClient.sendText("block");
        inside.get_future().wait();
        server->server().stop();
        for (auto* rec : {busy.get(), silent.get()}) {
            const auto events = rec->snapshot();
            CHECK(events.closeCount == 1);
            CHECK(events.closeStatus == CloseStatus::GoingAway);
        }
    }

    TEST_CASE("a send after the server began stopping fails with ServerStopping")
    {
        Recorders recorders;
        auto server = recordingServer(recorders);
        RawClient client(server->port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor(connected));
        auto stopped = std::async(std::launch::async, [&] { server->server().stop(); });
        const auto close = client.readUntilClose();  // the stop has begun
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        std::error_code result;
        CHECK_FALSE(rec->session().sendText("too late", [&](std::error_code ec) { result = ec; }));
        CHECK(result == make_error_code(Errc::ServerStopping));
        client.sendClose(1001);
        stopped.get();
        const auto events = rec->snapshot();
        CHECK(events.errors.empty());  // a clean close: nothing to report
        CHECK(events.closeStatus == CloseStatus::GoingAway);
        CHECK(events.closeReason == "server stopping");
    }

    TEST_CASE("a session the stop closes by force gets onError(ServerStopping), then onClose(1001)")
    {
        Recorders recorders;
        auto server = recordingServer(recorders, 2, [](Server& s) { s.setStopTimeout(std::chrono::milliseconds(100)); });
        RawClient client(server->port());  // never answers the 1001
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = recorders.at(0);
        REQUIRE(rec->waitFor(connected));
        server->server().stop();
        const auto events = rec->snapshot();
        REQUIRE(events.errors.size() == 1);
        CHECK(events.errors[0].code == make_error_code(Errc::ServerStopping));
        CHECK(events.closeCount == 1);
        CHECK(events.closeStatus == CloseStatus::GoingAway);
        CHECK(events.closeReason == "server stopping");
        CHECK(events.order == std::vector<std::string>{"connect", "error", "close"});
    }
}
