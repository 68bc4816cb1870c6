// User code that throws into wharf: listener callbacks and send callbacks, with standard
// and non-standard exceptions. The server logs it, closes the session it belongs to with
// 1011 where a callback of that session threw, and keeps its threads and its count.

#include "support/EchoListener.hpp"
#include "support/LogCapture.hpp"
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

using namespace wharf;
using namespace wharf::test;

namespace {

/// Throws an int (not a std::exception) from the callback named `where`.
class IntThrower : public WebSocketListener {
public:
    explicit IntThrower(std::string where) : where_(std::move(where)) {}

    void onConnect(Session session) override
    {
        session_ = session;
        if (where_ == "onConnect") throw 42;
        if (where_ == "send callback") session.sendText("hello", [](std::error_code) { throw 42; });
    }
    void onText(std::string_view) override
    {
        if (where_ == "onText") throw 42;
    }
    void onBinary(std::span<const std::byte>) override
    {
        if (where_ == "onBinary") throw 42;
    }
    void onError(const Error&) override
    {
        if (where_ == "onError") throw 42;
    }
    void onClose(CloseStatus, std::string_view) override
    {
        if (where_ == "onClose") throw 42;
    }

private:
    std::string where_;
    Session session_;
};

/// Sends, on connect, a message larger than the socket buffers can take, so that it is
/// still queued when the peer goes away; its callback throws what `thrower` throws.
class PendingSendListener : public WebSocketListener {
public:
    explicit PendingSendListener(std::function<void()> thrower, std::atomic<int>& calls)
        : thrower_(std::move(thrower)), calls_(calls)
    {
    }
    void onConnect(Session session) override
    {
        session.sendBinary(std::string(pendingBytes, 'p'), [this](std::error_code) {
            ++calls_;
            thrower_();
        });
    }
    static constexpr std::size_t pendingBytes = 32 * 1024 * 1024;

private:
    std::function<void()> thrower_;
    std::atomic<int>& calls_;
};

/// Polls `pred` until it holds or `timeout` passes (for server state no callback reports).
bool becomes(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5))
{
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

/// The single server thread still serves: an echo on a new connection comes back.
void checkStillServes(std::uint16_t port)
{
    RawClient client(port);
    REQUIRE(client.handshake("/echo").status == 101);
    client.sendText("alive?");
    const auto echo = client.readFrame();
    REQUIRE(echo);
    CHECK(echo->payload == "alive?");
}

}  // namespace

TEST_SUITE("callbacks")
{
    TEST_CASE("a non-standard exception from any callback leaves the server thread serving")
    {
        std::string where;
        SUBCASE("onConnect") { where = "onConnect"; }
        SUBCASE("onText") { where = "onText"; }
        SUBCASE("onBinary") { where = "onBinary"; }
        SUBCASE("onError") { where = "onError"; }
        SUBCASE("onClose") { where = "onClose"; }
        SUBCASE("send callback") { where = "send callback"; }
        CAPTURE(where);
        LogCapture logs(log::Level::Info);
        TestServer server(
            [&](ServletContextHandler& context) {
                context.addWebSocket("/echo", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
                context.addWebSocket("/throw", [&](WebSocketServletFactory& f) {
                    f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) {
                        return std::make_shared<IntThrower>(where);
                    });
                });
            },
            1);  // one thread: if it died, nothing would be served
        RawClient client(server.port());
        REQUIRE(client.handshake("/throw").status == 101);
        std::uint16_t expectedClose = 1000;
        if (where == "onConnect") {
            expectedClose = 1011;
        } else if (where == "onText") {
            client.sendText("x");
            expectedClose = 1011;
        } else if (where == "onBinary") {
            client.sendBinary("x");
            expectedClose = 1011;
        } else if (where == "onError") {
            client.sendFrame(0x1, "unmasked", true, false);  // RFC 6455 5.1: a protocol error
            expectedClose = 1002;
        } else if (where == "send callback") {
            const auto hello = client.readFrame();
            REQUIRE(hello);
            CHECK(hello->payload == "hello");
        }
        if (expectedClose == 1000) client.sendClose(1000);
        const auto close = client.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == expectedClose);
        client.close();
        CHECK(logs.waitFor(log::Level::Error, "threw"));
        CHECK(becomes([&] { return server.server().sessionCount() == 0; }));
        checkStillServes(server.port());
    }

    TEST_CASE("a send callback that throws while its session is torn down does not hold up stop()")
    {
        std::function<void()> thrower;
        SUBCASE("std::runtime_error") { thrower = [] { throw std::runtime_error("callback failed"); }; }
        SUBCASE("an int") { thrower = [] { throw 42; }; }
        std::atomic<int> calls{0};
        const auto stopTimeout = std::chrono::seconds(10);
        TestServer server(
            [&](ServletContextHandler& context) {
                context.addWebSocket("/pending", [&](WebSocketServletFactory& f) {
                    f.setMaxSendQueueSize(2 * PendingSendListener::pendingBytes);
                    f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) {
                        return std::make_shared<PendingSendListener>(thrower, calls);
                    });
                });
            },
            2, [&](Server& s) { s.setStopTimeout(stopTimeout); });
        RawClient client(server.port());
        REQUIRE(client.handshake("/pending").status == 101);
        REQUIRE(becomes([&] { return server.server().sessionCount() == 1; }));
        client.close();  // with the message unread: the send is still pending
        CHECK(becomes([&] { return calls.load() == 1; }));
        CHECK(becomes([&] { return server.server().sessionCount() == 0; }));
        const auto start = std::chrono::steady_clock::now();
        server.server().stop();
        CHECK(std::chrono::steady_clock::now() - start < stopTimeout / 4);
    }
}
