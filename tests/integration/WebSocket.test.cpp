// The WebSocket layer through a real Server on loopback: handshake, routing, messages,
// limits, listener contract, sessions.

#include "support/EchoListener.hpp"
#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <future>
#include <thread>

using namespace wharf;
using namespace wharf::test;

namespace {

/// A server with /echo (EchoListener) and /rec (one shared RecordingListener per connection list).
struct Fixture {
    Recorders recorders;
    std::function<void(WebSocketServletFactory&)> tune = [](WebSocketServletFactory&) {};

    std::shared_ptr<RecordingListener> recorder(std::size_t i = 0) { return recorders.at(i); }

    std::function<void(ServletContextHandler&)> setup()
    {
        return [this](ServletContextHandler& context) {
            context.addWebSocket("/echo/*", [](WebSocketServletFactory& f) {
                f.setMaxMessageSize(1024 * 1024);
                f.addMapping<EchoListener>("/");
            });
            context.addWebSocket("/rec", [this](WebSocketServletFactory& f) {
                tune(f);
                f.addMapping("/", recorders.creator());
            });
        };
    }
};

}  // namespace

TEST_SUITE("websocket")
{
    TEST_CASE("handshake answers 101 with the RFC 6455 accept key")
    {
        Fixture fx;
        TestServer server(fx.setup());
        RawClient client(server.port());
        const auto r = client.handshake("/echo");
        CHECK(r.status == 101);
        // RFC 6455 1.3's example key and accept value.
        CHECK(r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        CHECK(r.header("Upgrade").value_or("") == "websocket");
        CHECK(!r.header("Sec-WebSocket-Extensions"));  // deflate is off by default
    }

    TEST_CASE("text and binary messages are echoed")
    {
        Fixture fx;
        TestServer server(fx.setup());
        RawClient client(server.port());
        REQUIRE(client.handshake("/echo/anything").status == 101);
        client.sendText("hello");
        auto f = client.readFrame();
        REQUIRE(f);
        CHECK(f->opcode == 0x1);
        CHECK(f->payload == "hello");
        std::string bin("\x00\x01\xff\x80zz", 6);
        client.sendBinary(bin);
        f = client.readFrame();
        REQUIRE(f);
        CHECK(f->opcode == 0x2);
        CHECK(f->payload == bin);
        SUBCASE("sizes around the 7/16/64-bit length boundaries")
        {
            for (std::size_t n : {0u, 125u, 126u, 127u, 65535u, 65536u, 300000u}) {
                std::string big(n, 'x');
                for (std::size_t i = 0; i < n; ++i) big[i] = static_cast<char>('a' + i % 26);
                client.sendBinary(big);
                f = client.readFrame();
                REQUIRE(f);
                CHECK(f->payload.size() == n);
                CHECK(f->payload == big);
            }
        }
        SUBCASE("fragmented message with a ping in the middle")
        {
            client.sendFrame(0x1, "frag", false);
            client.sendFrame(0x9, "ping!");
            client.sendFrame(0x0, "ment", false);
            client.sendFrame(0x0, "ed", true);
            auto pong = client.readFrame();
            REQUIRE(pong);
            CHECK(pong->opcode == 0xA);
            CHECK(pong->payload == "ping!");
            f = client.readFrame();
            REQUIRE(f);
            CHECK(f->payload == "fragmented");
        }
        SUBCASE("many frames in one TCP segment are all answered")
        {
            std::string batch;
            for (int i = 0; i < 50; ++i) batch += RawClient::buildFrame(0x1, "m" + std::to_string(i));
            client.sendRaw(batch);
            for (int i = 0; i < 50; ++i) {
                f = client.readFrame();
                REQUIRE(f);
                CHECK(f->payload == "m" + std::to_string(i));
            }
        }
        SUBCASE("a frame arriving one byte at a time")
        {
            const auto bytes = RawClient::buildFrame(0x1, std::string(300, 'q'));
            for (char c : bytes) client.sendRaw(std::string_view(&c, 1));
            f = client.readFrame();
            REQUIRE(f);
            CHECK(f->payload == std::string(300, 'q'));
        }
        client.sendClose(1000, "bye");
        auto close = client.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == 1000);
        CHECK(client.waitForEof());
    }

    TEST_CASE("unknown paths get 404 and bad handshakes 400/426")
    {
        Fixture fx;
        TestServer server(fx.setup());
        CHECK(RawClient(server.port()).handshake("/nowhere").status == 404);
        CHECK(RawClient(server.port()).handshake("/rec/below").status == 404);  // exact servlet spec
        RawClient a(server.port());
        a.sendRaw("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n");
        CHECK(a.readResponse().status == 400);  // no key
        RawClient b(server.port());
        b.sendRaw("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
        const auto r = b.readResponse();
        CHECK(r.status == 426);
        CHECK(r.header("Sec-WebSocket-Version") == "13");
        RawClient c(server.port());
        c.sendRaw("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nconnection: keep-alive, Upgrade\r\n"
                  "SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n");
        CHECK(c.readResponse().status == 101);  // header names in any case, token lists
    }

    TEST_CASE("the creator sees path parameters, query, cookies and subprotocols, and can reject")
    {
        std::mutex m;
        std::string room, user, cookie, origin;
        std::vector<std::string> offered;
        TestServer server([&](ServletContextHandler& context) {
            context.addWebSocket("/rooms/{room}", [&](WebSocketServletFactory& f) {
                f.addMapping("/", [&](const UpgradeRequest& req, UpgradeResponse& res) -> std::shared_ptr<WebSocketListener> {
                    std::lock_guard lock(m);
                    room = req.pathParameter("room").value_or("");
                    user = req.queryParameter("user").value_or("");
                    cookie = req.cookie("sid").value_or("");
                    origin = std::string(req.origin());
                    const auto protocols = req.subprotocols();  // views into req
                    offered.assign(protocols.begin(), protocols.end());
                    if (user == "mallory") {
                        res.reject(403, "go away");
                        return nullptr;
                    }
                    if (req.hasSubprotocol("chat.v2")) res.setAcceptedSubprotocol("chat.v2");
                    res.addHeader("X-Room", room);
                    return std::make_shared<EchoListener>();
                });
            });
        });
        RawClient client(server.port());
        const auto r = client.handshake("/rooms/lobby?user=alice",
                                        "Cookie: theme=dark; sid=abc123\r\nOrigin: http://example.test\r\n"
                                        "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n");
        CHECK(r.status == 101);
        CHECK(r.header("Sec-WebSocket-Protocol") == "chat.v2");
        CHECK(r.header("X-Room") == "lobby");
        {
            std::lock_guard lock(m);
            CHECK(room == "lobby");
            CHECK(user == "alice");
            CHECK(cookie == "abc123");
            CHECK(origin == "http://example.test");
            CHECK(offered == std::vector<std::string>{"chat.v1", "chat.v2"});
        }
        RawClient rejected(server.port());
        const auto no = rejected.handshake("/rooms/lobby?user=mallory");
        CHECK(no.status == 403);
        CHECK(no.body.find("go away") != std::string::npos);
        RawClient noProtocol(server.port());
        const auto plain = noProtocol.handshake("/rooms/x");
        CHECK(plain.status == 101);
        CHECK(!plain.header("Sec-WebSocket-Protocol"));
    }

    TEST_CASE("allowed origins refuse others with 403")
    {
        TestServer server([](ServletContextHandler& context) {
            context.addWebSocket("/ws", [](WebSocketServletFactory& f) {
                f.setAllowedOrigins({"https://good.test"});
                f.addMapping<EchoListener>("/");
            });
        });
        CHECK(RawClient(server.port()).handshake("/ws", "Origin: https://evil.test\r\n").status == 403);
        CHECK(RawClient(server.port()).handshake("/ws", "Origin: https://good.test\r\n").status == 101);
    }

    TEST_CASE("listener contract: connect, messages, close in order, never concurrent")
    {
        Fixture fx;
        TestServer server(fx.setup(), 4);
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        for (int i = 0; i < 20; ++i) client.sendText("t" + std::to_string(i));
        client.sendBinary("b");
        client.sendClose(1000, "done");
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
        const auto e = rec->snapshot();
        CHECK(e.order.front() == "connect");
        CHECK(e.order.back() == "close");
        CHECK(e.texts.size() == 20);
        CHECK(e.texts[19] == "t19");
        CHECK(e.binaries == std::vector<std::string>{"b"});
        CHECK(e.closeStatus == CloseStatus::Normal);
        CHECK(e.closeReason == "done");
        CHECK(e.errors.empty());
        CHECK_FALSE(e.concurrent);
        auto reply = client.readUntilClose();
        REQUIRE(reply);
        CHECK(reply->closeCode() == 1000);
    }

    TEST_CASE("idle timeout closes with 1001 and onClose sees it")
    {
        Fixture fx;
        fx.tune = [](WebSocketServletFactory& f) { f.setIdleTimeout(std::chrono::milliseconds(300)); };
        TestServer server(fx.setup());
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto close = client.readUntilClose(std::chrono::seconds(5));
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        client.sendClose(1001);
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(rec->snapshot().closeStatus == CloseStatus::GoingAway);
        CHECK(client.waitForEof());
    }

    TEST_CASE("traffic keeps an idle timeout from firing")
    {
        Fixture fx;
        fx.tune = [](WebSocketServletFactory& f) { f.setIdleTimeout(std::chrono::milliseconds(400)); };
        TestServer server(fx.setup());
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = fx.recorder();
        for (int i = 0; i < 8; ++i) {
            client.sendText("still here");
            REQUIRE(rec->waitFor([i](const auto& e) { return e.texts.size() == std::size_t(i + 1); }));
            // No close frame may arrive while we keep talking (well inside the 400 ms).
            CHECK_FALSE(client.readFrame(std::chrono::milliseconds(150)));
        }
        CHECK(rec->snapshot().closeCount == 0);
    }

    TEST_CASE("limits and invalid input close with the RFC code")
    {
        Fixture fx;
        fx.tune = [](WebSocketServletFactory& f) { f.setMaxTextMessageSize(1000); f.setMaxBinaryMessageSize(1000); };
        TestServer server(fx.setup());
        auto expectClose = [&](auto send, std::uint16_t code, Errc errc) {
            const auto before = fx.recorders.size();
            RawClient client(server.port());
            REQUIRE(client.handshake("/rec").status == 101);
            send(client);
            auto close = client.readUntilClose();
            REQUIRE(close);
            CHECK(close->closeCode() == code);
            CHECK(client.waitForEof());
            auto rec = fx.recorder(before);
            REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
            const auto e = rec->snapshot();
            CHECK(static_cast<int>(*e.closeStatus) == code);
            REQUIRE(e.errors.size() == 1);
            CHECK(e.errors[0].code == make_error_code(errc));
        };
        SUBCASE("oversized message -> 1009")
        {
            expectClose([](RawClient& c) { c.sendText(std::string(1001, 'a')); }, 1009, Errc::MessageTooBig);
        }
        SUBCASE("oversized fragmented message -> 1009 before the end")
        {
            expectClose([](RawClient& c) {
                c.sendFrame(0x2, std::string(600, 'a'), false);
                c.sendFrame(0x0, std::string(600, 'a'), false);
            }, 1009, Errc::MessageTooBig);
        }
        SUBCASE("invalid UTF-8 -> 1007")
        {
            expectClose([](RawClient& c) { c.sendText("abc\xff"); }, 1007, Errc::InvalidUtf8);
        }
        SUBCASE("unmasked frame -> 1002")
        {
            expectClose([](RawClient& c) { c.sendFrame(0x1, "x", true, false); }, 1002, Errc::ProtocolError);
        }
        SUBCASE("reserved opcode -> 1002")
        {
            expectClose([](RawClient& c) { c.sendFrame(0x3, "x"); }, 1002, Errc::ProtocolError);
        }
        SUBCASE("RSV1 without deflate -> 1002")
        {
            expectClose([](RawClient& c) { c.sendFrame(0x1, "x", true, true, 0x40); }, 1002, Errc::ProtocolError);
        }
        SUBCASE("invalid close code -> 1002")
        {
            expectClose([](RawClient& c) { c.sendClose(1005); }, 1002, Errc::ProtocolError);
        }
    }

    TEST_CASE("a throwing listener closes with 1011 and the server keeps serving")
    {
        TestServer server([](ServletContextHandler& context) {
            context.addWebSocket("/boom", [](WebSocketServletFactory& f) {
                f.addMapping("/", [](const UpgradeRequest&, UpgradeResponse&) {
                    auto r = std::make_shared<RecordingListener>();
                    r->onTextHook = [](Session&, std::string_view) { throw std::runtime_error("kaboom"); };
                    return r;
                });
            });
            context.addWebSocket("/echo", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
        });
        RawClient client(server.port());
        REQUIRE(client.handshake("/boom").status == 101);
        client.sendText("trigger");
        auto close = client.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == 1011);
        RawClient other(server.port());
        REQUIRE(other.handshake("/echo").status == 101);
        other.sendText("alive?");
        auto f = other.readFrame();
        REQUIRE(f);
        CHECK(f->payload == "alive?");
    }

    TEST_CASE("broadcast reaches every client, and sends from a foreign thread keep order")
    {
        Fixture fx;
        TestServer server(fx.setup(), 2);
        constexpr int clients = 20;
        std::vector<RawClient> conns;
        for (int i = 0; i < clients; ++i) {
            conns.emplace_back(server.port());
            REQUIRE(conns.back().handshake("/rec").status == 101);
        }
        std::vector<Session> sessions;
        for (int i = 0; i < clients; ++i) {
            auto rec = fx.recorder(i);
            REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
            sessions.push_back(rec->session());
        }
        std::thread foreign([&] {
            for (int n = 0; n < 100; ++n) {
                const auto msg = Message::text("news " + std::to_string(n));
                for (auto& s : sessions) CHECK(s.send(msg));
            }
        });
        foreign.join();
        for (auto& c : conns) {
            for (int n = 0; n < 100; ++n) {
                auto f = c.readFrame();
                REQUIRE(f);
                CHECK(f->payload == "news " + std::to_string(n));
            }
        }
    }

    TEST_CASE("sends from one connection's handler reach connections that share its strand")
    {
        // More connections than the server has strands (64 per thread): some share one.
        // A send to another connection from a handler must still be flushed (a posted
        // flush, not "my strand flushes on return"), small and large (the direct write of
        // large payloads is only for the connection's own handler).
        struct Relay : WebSocketAdapter {
            std::mutex& mutex;
            std::vector<Session>& all;
            Relay(std::mutex& m, std::vector<Session>& a) : mutex(m), all(a) {}
            void onConnect(Session s) override
            {
                WebSocketAdapter::onConnect(s);
                std::lock_guard lock(mutex);
                all.push_back(s);
            }
            void onText(std::string_view text) override
            {
                std::vector<Session> to;
                {
                    std::lock_guard lock(mutex);
                    to = all;
                }
                for (auto& s : to)
                    if (!(s == getSession())) CHECK(s.sendText(text));
            }
        };
        std::mutex mutex;
        std::vector<Session> all;
        TestServer server(
            [&](ServletContextHandler& context) {
                context.addWebSocket("/relay", [&](WebSocketServletFactory& f) {
                    f.setMaxMessageSize(1024 * 1024);
                    f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) {
                        return std::make_shared<Relay>(mutex, all);
                    });
                });
            },
            1);
        constexpr int clients = 70;
        std::vector<RawClient> conns;
        for (int i = 0; i < clients; ++i) {
            conns.emplace_back(server.port());
            REQUIRE(conns.back().handshake("/relay").status == 101);
        }
        for (int tries = 0; tries < 500; ++tries) {
            {
                std::lock_guard lock(mutex);
                if (all.size() == clients) break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        const std::string large(20 * 1024, 'L');
        for (const std::string& text : {std::string("small"), large}) {
            conns.front().sendText(text);
            for (int i = 1; i < clients; ++i) {
                auto f = conns[static_cast<std::size_t>(i)].readFrame();
                REQUIRE(f);
                CHECK(f->payload == text);
            }
        }
    }

    TEST_CASE("a session outlives its connection safely")
    {
        Fixture fx;
        TestServer server(fx.setup());
        Session kept;
        {
            RawClient client(server.port());
            REQUIRE(client.handshake("/rec").status == 101);
            auto rec = fx.recorder();
            REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
            kept = rec->session();
            CHECK(kept.isOpen());
            CHECK(kept.remoteAddress().rfind("127.0.0.1:", 0) == 0);
            REQUIRE(kept.upgradeRequest());
            CHECK(kept.upgradeRequest()->path() == "/rec");
        }  // the client vanishes without a close frame
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(rec->snapshot().closeStatus == CloseStatus::Abnormal);
        CHECK_FALSE(kept.isOpen());
        std::error_code got;
        CHECK_FALSE(kept.sendText("anyone?", [&](std::error_code ec) { got = ec; }));
        CHECK(got == make_error_code(Errc::SessionClosed));
        Session none;
        CHECK_FALSE(none.sendText("x"));
        CHECK_FALSE(none.isOpen());
    }

    TEST_CASE("send callbacks report success, and a full queue refuses with SendQueueFull")
    {
        Fixture fx;
        fx.tune = [](WebSocketServletFactory& f) { f.setMaxSendQueueSize(64 * 1024); };
        TestServer server(fx.setup());
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        auto session = rec->session();
        std::promise<std::error_code> done;
        CHECK(session.sendText("one", [&](std::error_code ec) { done.set_value(ec); }));
        auto fut = done.get_future();
        REQUIRE(fut.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
        CHECK_FALSE(fut.get());
        REQUIRE(client.readFrame());
        // The client stops reading: sends pile up until the queue limit refuses them.
        const std::string chunk(16 * 1024, 'z');
        int refused = 0;
        std::error_code lastError;
        for (int i = 0; i < 2000 && refused == 0; ++i)
            if (!session.sendBinary(chunk, [&](std::error_code ec) { if (ec) lastError = ec; })) ++refused;
        CHECK(refused == 1);
        CHECK(lastError == make_error_code(Errc::SendQueueFull));
        CHECK(session.bufferedAmount() > 0);
    }

    TEST_CASE("graceful stop closes open sessions with 1001")
    {
        Fixture fx;
        auto server = std::make_unique<TestServer>(fx.setup());
        RawClient client(server->port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        rec->session().sendText("last words");
        std::thread stopper([&] { server->server().stop(); });
        std::vector<Frame> before;
        auto close = client.readUntilClose(std::chrono::seconds(5), &before);
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        REQUIRE(before.size() == 1);
        CHECK(before[0].payload == "last words");  // queued messages drain before the close
        client.sendClose(1001);
        stopper.join();
        CHECK(rec->snapshot().closeCount == 1);
        CHECK(rec->snapshot().closeStatus == CloseStatus::GoingAway);
        CHECK_FALSE(server->server().isRunning());
    }

    TEST_CASE("close from the server side waits for the peer's close frame")
    {
        Fixture fx;
        TestServer server(fx.setup());
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        rec->session().close(CloseStatus::PolicyViolation, "not allowed");
        auto close = client.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == 1008);
        CHECK(close->closeReason() == "not allowed");
        CHECK(rec->snapshot().closeCount == 0);  // still waiting for our answer
        client.sendClose(1008);
        REQUIRE(rec->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(rec->snapshot().closeStatus == CloseStatus::PolicyViolation);
        CHECK(client.waitForEof());
    }

    TEST_CASE("partial and ping/pong listeners see fragments, pings and pongs")
    {
        struct Partial : WebSocketListener, WebSocketPartialListener, WebSocketPingPongListener {
            std::mutex m;
            std::vector<std::pair<std::string, bool>> fragments;
            std::vector<std::string> pings, pongs;
            std::atomic<int> wholeMessages{0};
            void onText(std::string_view) override { ++wholeMessages; }
            void onTextFragment(std::string_view f, bool last) override
            {
                std::lock_guard l(m);
                fragments.emplace_back(std::string(f), last);
            }
            void onBinaryFragment(std::span<const std::byte> f, bool last) override
            {
                std::lock_guard l(m);
                fragments.emplace_back(std::string(reinterpret_cast<const char*>(f.data()), f.size()), last);
            }
            void onPing(std::span<const std::byte> p) override
            {
                std::lock_guard l(m);
                pings.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
            }
            void onPong(std::span<const std::byte> p) override
            {
                std::lock_guard l(m);
                pongs.emplace_back(reinterpret_cast<const char*>(p.data()), p.size());
            }
        };
        auto listener = std::make_shared<Partial>();
        TestServer server([&](ServletContextHandler& c) {
            c.addWebSocket("/p", [&](WebSocketServletFactory& f) {
                f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) { return listener; });
            });
        });
        RawClient client(server.port());
        REQUIRE(client.handshake("/p").status == 101);
        // "é" (C3 A9) split across two fragments: the first fragment must not end inside it.
        client.sendFrame(0x1, "ab\xC3", false);
        client.sendFrame(0x0, "\xA9" "cd", true);
        client.sendFrame(0x2, "xyz", true);
        client.sendFrame(0x9, "p1");
        client.sendFrame(0xA, "unsolicited");
        auto pong = client.readFrame();
        REQUIRE(pong);
        CHECK(pong->opcode == 0xA);
        CHECK(pong->payload == "p1");
        client.sendClose(1000);
        REQUIRE(client.readUntilClose());
        std::lock_guard l(listener->m);
        REQUIRE(listener->fragments.size() == 3);
        CHECK(listener->fragments[0] == std::pair<std::string, bool>{"ab", false});
        CHECK(listener->fragments[1] == std::pair<std::string, bool>{"\xC3\xA9" "cd", true});
        CHECK(listener->fragments[2] == std::pair<std::string, bool>{"xyz", true});
        CHECK(listener->wholeMessages == 0);
        CHECK(listener->pings == std::vector<std::string>{"p1"});
        CHECK(listener->pongs == std::vector<std::string>{"unsolicited"});
    }

    TEST_CASE("a session's own idle timeout replaces the factory's")
    {
        Fixture fx;  // factory default: 30 s
        TestServer server(fx.setup());
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        rec->session().setIdleTimeout(std::chrono::milliseconds(200));
        auto close = client.readUntilClose(std::chrono::seconds(5));
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
    }

    TEST_CASE("permessage-deflate is negotiated when enabled and messages round-trip")
    {
        TestServer server([](ServletContextHandler& c) {
            c.addWebSocket("/z", [](WebSocketServletFactory& f) {
                f.setPermessageDeflate(true);
                f.addMapping<EchoListener>("/");
            });
            c.addWebSocket("/plain", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
        });
        RawClient client(server.port());
        const auto r = client.handshake("/z", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        REQUIRE(r.status == 101);
        CHECK(r.header("Sec-WebSocket-Extensions") == "permessage-deflate");
        // An uncompressed message is still fine; a long reply comes back compressed (RSV1).
        client.sendText(std::string(1000, 'a'));
        auto f = client.readFrame();
        REQUIRE(f);
        CHECK(f->rsv1);
        CHECK(f->payload.size() < 100);
        RawClient off(server.port());
        const auto r2 = off.handshake("/plain", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        REQUIRE(r2.status == 101);
        CHECK_FALSE(r2.header("Sec-WebSocket-Extensions"));
    }

    TEST_CASE("a server with two connectors serves both")
    {
        Server server;
        server.addConnector({"127.0.0.1", 0, std::nullopt});
        server.addConnector({"127.0.0.1", 0, std::nullopt});
        auto context = std::make_shared<ServletContextHandler>("/");
        context->addWebSocket("/echo", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
        server.setHandler(context);
        server.setThreads(1);
        server.start();
        REQUIRE(server.port(0) != server.port(1));
        for (std::size_t i = 0; i < 2; ++i) {
            RawClient client(server.port(i));
            REQUIRE(client.handshake("/echo").status == 101);
            client.sendText("via " + std::to_string(i));
            auto f = client.readFrame();
            REQUIRE(f);
            CHECK(f->payload == "via " + std::to_string(i));
        }
        CHECK_THROWS_AS(server.port(2), std::out_of_range);
        server.stop();
    }

    TEST_CASE("setStopAtShutdown: SIGTERM stops the server gracefully and join() returns")
    {
        Fixture fx;
        TestServer server(fx.setup(), 2, [](Server& s) { s.setStopAtShutdown(true); });
        RawClient client(server.port());
        REQUIRE(client.handshake("/rec").status == 101);
        auto rec = fx.recorder();
        REQUIRE(rec->waitFor([](const auto& e) { return e.connected; }));
        std::thread joiner([&] { server.server().join(); });
        std::raise(SIGTERM);  // handled by the server, not fatal to this process
        auto close = client.readUntilClose();
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        client.sendClose(1001);
        joiner.join();  // join() ran the stop and returned
        CHECK_FALSE(server.server().isRunning());
        CHECK(rec->snapshot().closeStatus == CloseStatus::GoingAway);
    }
}
