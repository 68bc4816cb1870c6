// WebSocketClient against the wharf server over ws://: echo, large messages, deflate,
// subprotocols, headers and cookies; each connect error by its Errc; stop() and reconnect.

#include "integration/ClientSupport.hpp"
#include "support/EchoListener.hpp"
#include "support/Printers.hpp"
#include "support/RecordingListener.hpp"
#include "support/TestServer.hpp"
#include "websocket/Http11Handshake.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>

#include <mutex>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// A server with an echo at /echo (1 MiB messages, deflate when asked), and at /seen a
/// listener whose creator keeps what it saw of the request.
struct EchoServer {
    struct Seen {
        std::mutex mutex;
        std::optional<std::string> token, cookie, origin;
        std::vector<std::string> subprotocols;
    };
    std::shared_ptr<Seen> seen = std::make_shared<Seen>();
    TestServer server;

    explicit EchoServer(bool deflate = false)
        : server([this, deflate](ServletContextHandler& context) {
              context.addWebSocket("/echo", [deflate](WebSocketServletFactory& f) {
                  f.setMaxMessageSize(1024 * 1024);
                  f.setPermessageDeflate(deflate);
                  f.addMapping<EchoListener>("/");
              });
              context.addWebSocket("/seen", [seen = seen](WebSocketServletFactory& f) {
                  f.addMapping("/", [seen](const UpgradeRequest& request, UpgradeResponse& response) {
                      std::lock_guard lock(seen->mutex);
                      if (auto h = request.header("X-Token")) seen->token = std::string(*h);
                      seen->cookie = request.cookie("session");
                      seen->origin = std::string(request.origin());
                      for (auto p : request.subprotocols()) seen->subprotocols.emplace_back(p);
                      if (request.hasSubprotocol("chat.v2")) response.setAcceptedSubprotocol("chat.v2");
                      return std::make_shared<EchoListener>();
                  });
              });
              context.addWebSocket("/refuse", [](WebSocketServletFactory& f) {
                  f.addMapping("/", [](const UpgradeRequest&, UpgradeResponse& response) {
                      response.reject(403, "members only");
                      return std::shared_ptr<WebSocketListener>();
                  });
              });
          })
    {
    }
    std::string uri(std::string_view path) const { return "ws://127.0.0.1:" + std::to_string(server.port()) + std::string(path); }
};

/// A started client with limits for 1 MiB messages.
struct Client {
    WebSocketClient client;
    explicit Client(bool deflate = false)
    {
        WebSocketPolicy policy;
        policy.maxTextMessageSize = policy.maxBinaryMessageSize = policy.maxFrameSize = 1024 * 1024;
        policy.deflate.enabled = deflate;
        client.setPolicy(policy);
        client.setStopTimeout(2s);
        client.start();
    }
};

}  // namespace

TEST_SUITE("client")
{
    TEST_CASE("a client echoes text and binary with the wharf server and closes with 1000")
    {
        EchoServer server;
        Client c;
        auto listener = std::make_shared<RecordingListener>();
        Session session = c.client.connect(listener, server.uri("/echo")).get();
        CHECK(listener->snapshot().connected);
        CHECK(session.isOpen());
        CHECK(session.upgradeRequest()->path() == "/echo");
        session.sendText("hello");
        session.sendBinary(std::string_view("\x00\x01\x02", 3));
        REQUIRE(listener->waitFor([](const auto& e) { return e.texts.size() == 1 && e.binaries.size() == 1; }));
        CHECK(listener->snapshot().texts[0] == "hello");
        CHECK(listener->snapshot().binaries[0] == std::string("\x00\x01\x02", 3));
        const auto closing = std::chrono::steady_clock::now();
        session.close(CloseStatus::Normal, "done");
        // At the server's TCP close, not at the close timeout (5 s): the client reads on
        // after the close frames to see it (RFC 6455 7.1.1).
        REQUIRE(listener->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(std::chrono::steady_clock::now() - closing < 2s);
        const auto events = listener->snapshot();
        CHECK(*events.closeStatus == CloseStatus::Normal);
        CHECK(events.errors.empty());
        CHECK_FALSE(events.concurrent);
        CHECK(events.order.front() == "connect");
        CHECK(events.order.back() == "close");
    }

    TEST_CASE("a client sends and receives 1 MiB messages")
    {
        EchoServer server;
        Client c;
        auto listener = std::make_shared<RecordingListener>();
        Session session = c.client.connect(listener, server.uri("/echo")).get();
        std::string big(1024 * 1024, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
        session.sendBinary(big);
        REQUIRE(listener->waitFor([](const auto& e) { return !e.binaries.empty(); }, 10s));
        CHECK(listener->snapshot().binaries[0] == big);
    }

    TEST_CASE("permessage-deflate works both ways when the client offers it")
    {
        EchoServer server(true);
        Client c(true);
        auto listener = std::make_shared<RecordingListener>();
        Session session = c.client.connect(listener, server.uri("/echo")).get();
        const auto extensions = session.upgradeRequest()->extensions();
        REQUIRE(extensions.size() == 1);
        CHECK(extensions[0] == "permessage-deflate");
        std::string text;
        for (int i = 0; i < 20000; ++i) text += "compressible text " + std::to_string(i % 10) + "\n";
        session.sendText(text);
        session.sendText(text);  // the second message with the contexts taken over
        REQUIRE(listener->waitFor([](const auto& e) { return e.texts.size() == 2; }, 10s));
        CHECK(listener->snapshot().texts[0] == text);
        CHECK(listener->snapshot().texts[1] == text);

        SUBCASE("without the offer the server compresses nothing")
        {
            Client plain;
            auto other = std::make_shared<RecordingListener>();
            Session s = plain.client.connect(other, server.uri("/echo")).get();
            CHECK(s.upgradeRequest()->extensions().empty());
        }
    }

    TEST_CASE("the server sees the client's subprotocols, headers, cookies and origin; the client the chosen subprotocol")
    {
        EchoServer server;
        Client c;
        ClientUpgradeRequest request;
        request.subprotocols = {"chat.v3", "chat.v2"};
        request.headers.add("X-Token", "t0k3n");
        request.cookies = {{"session", "abc"}, {"theme", "dark"}};
        request.origin = "https://app.example";
        Session session = c.client.connect(std::make_shared<RecordingListener>(), server.uri("/seen?x=1"), request).get();
        CHECK(session.upgradeRequest()->subprotocols() == std::vector<std::string_view>{"chat.v2"});
        CHECK(session.upgradeRequest()->target() == "/seen?x=1");
        std::lock_guard lock(server.seen->mutex);
        CHECK(server.seen->token == "t0k3n");
        CHECK(server.seen->cookie == "abc");
        CHECK(server.seen->origin == "https://app.example");
        CHECK(server.seen->subprotocols == std::vector<std::string>{"chat.v3", "chat.v2"});
    }

    TEST_CASE("a handshake field in ClientUpgradeRequest::headers is refused")
    {
        EchoServer server;
        Client c;
        ClientUpgradeRequest request;
        request.headers.add("Sec-WebSocket-Key", "forged");
        const auto f = connectFailure(c.client, server.uri("/echo"), request);
        CHECK(f.code == Errc::InvalidArgument);
    }

    TEST_CASE("connect errors are distinct Errc values")
    {
        Client c;
        SUBCASE("not a ws URI")
        {
            CHECK(connectFailure(c.client, "http://127.0.0.1/").code == Errc::InvalidUri);
            CHECK(connectFailure(c.client, "ws://127.0.0.1:99999/").code == Errc::InvalidUri);
        }
        SUBCASE("DNS failure")
        {
            const auto f = connectFailure(c.client, "ws://nonexistent.invalid/");
            CHECK(f.code == Errc::DnsFailure);
            CHECK(f.message.find("nonexistent.invalid") != std::string::npos);
        }
        SUBCASE("connection refused")
        {
            std::uint16_t port = 0;
            {
                ListeningSocket closed;
                port = closed.port();
            }
            CHECK(connectFailure(c.client, "ws://127.0.0.1:" + std::to_string(port) + "/").code == Errc::ConnectionRefused);
        }
        SUBCASE("connect timeout: the listener's accept queue is full, so SYNs go unanswered")
        {
            ListeningSocket full(0);
            std::vector<int> fillers;
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            address.sin_port = htons(full.port());
            for (int i = 0; i < 4; ++i) {
                const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
                fillers.push_back(fd);
            }
            std::this_thread::sleep_for(100ms);  // the queue fills (no other way to know)
            ClientUpgradeRequest request;
            request.connectTimeout = 300ms;
            const auto started = std::chrono::steady_clock::now();
            const auto f = connectFailure(c.client, "ws://127.0.0.1:" + std::to_string(full.port()) + "/", request);
            CHECK(f.code == Errc::ConnectTimeout);
            CHECK(std::chrono::steady_clock::now() - started < 3s);
            for (int fd : fillers) ::close(fd);
        }
        SUBCASE("handshake timeout: a server that accepts and never answers")
        {
            ListeningSocket silent;  // the kernel completes the TCP handshake; nobody reads
            ClientUpgradeRequest request;
            request.handshakeTimeout = 300ms;
            const auto f = connectFailure(c.client, "ws://127.0.0.1:" + std::to_string(silent.port()) + "/", request);
            CHECK(f.code == Errc::HandshakeTimeout);
        }
        SUBCASE("a status other than 101, with its headers and body")
        {
            EchoServer server;
            const auto f = connectFailure(c.client, server.uri("/refuse"));
            CHECK(f.code == Errc::UpgradeRejected);
            CHECK(f.status == 403);
            CHECK(f.body.find("members only") != std::string::npos);
            CHECK(f.headers.contains("Content-Type"));
        }
        SUBCASE("a 404 for a path nobody serves")
        {
            EchoServer server;
            const auto f = connectFailure(c.client, server.uri("/nothing-here"));
            CHECK(f.code == Errc::UpgradeRejected);
            CHECK(f.status == 404);
        }
    }

    TEST_CASE("a 101 that breaks RFC 6455 4.1 fails the connect")
    {
        Client c;
        const auto answer = [](std::string accept, std::string extra = {}, std::string upgrade = "Upgrade: websocket\r\n") {
            return [=](const std::string& key) {
                return "HTTP/1.1 101 Switching Protocols\r\n" + upgrade + "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                       (accept.empty() ? detail::acceptKey(key) : accept) + "\r\n" + extra + "\r\n";
            };
        };
        const auto uriOf = [](const ScriptedUpgradeServer& s) { return "ws://127.0.0.1:" + std::to_string(s.port()) + "/"; };
        SUBCASE("a wrong Sec-WebSocket-Accept")
        {
            ScriptedUpgradeServer server(answer("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
            CHECK(connectFailure(c.client, uriOf(server)).code == Errc::BadAcceptKey);
        }
        SUBCASE("no Upgrade: websocket")
        {
            ScriptedUpgradeServer server(answer("", "", ""));
            CHECK(connectFailure(c.client, uriOf(server)).code == Errc::MissingUpgradeHeaders);
        }
        SUBCASE("a subprotocol that was not offered")
        {
            ScriptedUpgradeServer server(answer("", "Sec-WebSocket-Protocol: mqtt\r\n"));
            ClientUpgradeRequest request;
            request.subprotocols = {"chat"};
            CHECK(connectFailure(c.client, uriOf(server), request).code == Errc::UnexpectedSubprotocol);
        }
        SUBCASE("an extension that was not offered")
        {
            ScriptedUpgradeServer server(answer("", "Sec-WebSocket-Extensions: permessage-deflate\r\n"));
            CHECK(connectFailure(c.client, uriOf(server)).code == Errc::UnexpectedExtension);
        }
        SUBCASE("the request the client sent")
        {
            ScriptedUpgradeServer server(answer("", "", ""));
            connectFailure(c.client, "ws://127.0.0.1:" + std::to_string(server.port()) + "/path?q=1");
            const auto request = server.request();
            CHECK(request.starts_with("GET /path?q=1 HTTP/1.1\r\n"));
            CHECK(request.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") != std::string::npos);
            CHECK(request.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
            CHECK(request.find("\r\nUpgrade: websocket\r\n") != std::string::npos);
        }
    }

    TEST_CASE("bytes the server sends right after its 101 reach the listener")
    {
        Client c;
        ScriptedUpgradeServer server([](const std::string& key) {
            return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: " + detail::acceptKey(key) + "\r\n\r\n\x81\x02hi";
        });
        auto listener = std::make_shared<RecordingListener>();
        c.client.connect(listener, "ws://127.0.0.1:" + std::to_string(server.port()) + "/").get();
        REQUIRE(listener->waitFor([](const auto& e) { return !e.texts.empty(); }));
        CHECK(listener->snapshot().texts[0] == "hi");
    }

    TEST_CASE("stop() closes open sessions with 1001")
    {
        auto serverSide = std::make_shared<RecordingListener>();
        TestServer server([&](ServletContextHandler& context) {
            context.addWebSocket("/r", [&](WebSocketServletFactory& f) {
                f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) { return serverSide; });
            });
        });
        auto listener = std::make_shared<RecordingListener>();
        {
            Client c;
            c.client.connect(listener, "ws://127.0.0.1:" + std::to_string(server.port()) + "/r").get();
            c.client.stop();
            CHECK_FALSE(c.client.isRunning());
        }
        CHECK(listener->snapshot().closeCount == 1);
        CHECK(*listener->snapshot().closeStatus == CloseStatus::GoingAway);
        REQUIRE(serverSide->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(*serverSide->snapshot().closeStatus == CloseStatus::GoingAway);
        CHECK(serverSide->snapshot().closeReason == "client stopping");
    }

    TEST_CASE("connect before start() or after stop() fails with ClientStopped")
    {
        WebSocketClient client;
        CHECK(connectFailure(client, "ws://127.0.0.1:1/").code == Errc::ClientStopped);
    }

    TEST_CASE("a client reconnects when the server comes back, with a fresh onConnect")
    {
        // A fixed port for both servers: the first one's, picked by the kernel.
        std::uint16_t port = 0;
        const auto makeServer = [&port] {
            return startOnPort(port, [](ServletContextHandler& context) {
                context.addWebSocket("/echo", [](WebSocketServletFactory& f) { f.addMapping<EchoListener>("/"); });
            });
        };
        auto server = makeServer();
        Client c;
        auto listener = std::make_shared<RecordingListener>();
        std::atomic<int> failedAttempts{0};
        ClientUpgradeRequest request;
        request.reconnect.enabled = true;
        request.reconnect.initialDelay = 100ms;
        request.reconnect.maxDelay = 300ms;
        request.reconnect.onAttemptFailed = [&](std::error_code, bool) { ++failedAttempts; };
        const Session first = c.client.connect(listener, "ws://127.0.0.1:" + std::to_string(port) + "/echo", request).get();

        server->stop();  // the client sees 1001 and starts reconnecting
        REQUIRE(listener->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(*listener->snapshot().closeStatus == CloseStatus::GoingAway);
        std::this_thread::sleep_for(400ms);  // a few attempts fail meanwhile
        server.reset();
        server = makeServer();
        const auto restarted = std::chrono::steady_clock::now();
        REQUIRE(listener->waitFor([](const auto& e) {
            return std::count(e.order.begin(), e.order.end(), "connect") == 2;
        }));
        // Within the policy: the longest delay is 300 ms + 20 % jitter.
        CHECK(std::chrono::steady_clock::now() - restarted < 1s);
        CHECK(failedAttempts.load() >= 1);
        const Session second = listener->session();
        CHECK(second != first);
        CHECK_FALSE(first.isOpen());
        second.sendText("again");
        REQUIRE(listener->waitFor([](const auto& e) { return !e.texts.empty(); }));
        CHECK(listener->snapshot().texts == std::vector<std::string>{"again"});  // nothing replayed

        SUBCASE("a close with 1000 ends it for good")
        {
            second.close(CloseStatus::Normal);
            REQUIRE(listener->waitFor([](const auto& e) { return e.closeCount == 2; }));
            std::this_thread::sleep_for(300ms);
            const auto events = listener->snapshot();
            CHECK(std::count(events.order.begin(), events.order.end(), "connect") == 2);
        }
    }
}
