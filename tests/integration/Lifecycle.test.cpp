// Server::onStarted / onStopping: when they run, and that a goodbye sent from onStopping
// reaches the client before the 1001 of the stop.
#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <string>
#include <vector>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

TEST_SUITE("lifecycle") {

TEST_CASE("onStarted runs once listening, onStopping before the 1001, and its sends go out first")
{
    Recorders recorders;
    std::mutex m;
    std::vector<std::string> order;
    std::uint16_t portAtStart = 0;
    Server* started = nullptr;
    auto note = [&](std::string what) {
        std::lock_guard lock(m);
        order.push_back(std::move(what));
    };
    TestServer server(
        [&](ServletContextHandler& context) {
            context.addWebSocket("/rec", [&](WebSocketServletFactory& f) { f.addMapping("/", recorders.creator()); });
        },
        2,
        [&](Server& s) {
            started = &s;
            s.onStarted([&] {
                portAtStart = started->port();
                note("started");
            });
            s.onStopping([&] {
                note("stopping");
                // Still open, still sending.
                const bool queued = static_cast<bool>(recorders.at(0)->session().sendText("goodbye"));
                note(queued ? "goodbye queued" : "goodbye refused");
            });
            s.onStopping([&] { throw std::runtime_error("a listener that throws does not stop the next"); });
            s.onStopping([&] { note("second stopping listener"); });
        });
    CHECK(portAtStart == server.port());
    RawClient client(server.port());
    REQUIRE(client.handshake("/rec").status == 101);
    REQUIRE(recorders.at(0)->waitFor([](const auto& e) { return e.connected; }));
    auto stopped = std::async(std::launch::async, [&] { server.server().stop(); });
    std::vector<Frame> before;
    const auto close = client.readUntilClose(5s, &before);
    REQUIRE(close);
    CHECK(close->closeCode() == 1001);
    REQUIRE(before.size() == 1);
    CHECK(before[0].payload == "goodbye");
    client.sendClose(1001);
    stopped.get();
    std::lock_guard lock(m);
    CHECK(order == std::vector<std::string>{"started", "stopping", "goodbye queued", "second stopping listener"});
}

}  // TEST_SUITE
