// The Redis broker's engine (issue 13), against a real redis-server: publishes reach every
// node's subscribers once and in one order, a publish Redis does not take fails and reaches
// nobody, a lost subscriber connection is repaired from the history, a Redis that lost its
// data is reported as a new epoch, and the publishing session is skipped.
// The cluster-sized scenarios (several nodes under load, nginx, the chat sample) are in
// Cluster.test.cpp.

#include "support/RawClient.hpp"
#include "support/RedisServer.hpp"
#include "support/TestServer.hpp"
#include "support/TlsTestCerts.hpp"

#include "broker/RedisConnection.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// Subscribes to "news" on connect; "pub text" publishes text from the session; every gap
/// is recorded. With a query parameter `since` (a position, or empty for none) it reports
/// its positions to the client: "@at epoch:offset" from onSubscribed, "@gap from-to" or
/// "@gap epoch" from onTopicGap; and subscribes from that position when one is given.
class Subscriber : public WebSocketListener {
public:
    Subscriber(std::vector<TopicGap>& gaps, std::mutex& mutex, std::optional<std::string> since)
        : gaps_(gaps), mutex_(mutex), since_(std::move(since))
    {
    }
    void onConnect(Session s) override
    {
        session_ = s;
        if (!since_ || since_->empty()) {
            s.subscribe("news");
        } else {
            const auto position = TopicPosition::parse(*since_);
            REQUIRE(position);
            s.subscribe("news", *position);
        }
    }
    void onSubscribed(std::string_view topic, const TopicPosition& position) override
    {
        CHECK(topic == "news");
        if (since_) session_.sendText("@at " + position.toString());
    }
    void onText(std::string_view m) override
    {
        if (m.starts_with("pub ")) session_.publish("news", Message::text(m.substr(4)), [](std::error_code) {});
    }
    void onTopicGap(std::string_view topic, const TopicGap& gap) override
    {
        CHECK(topic == "news");
        if (since_) session_.sendText(gap.newEpoch ? std::string("@gap epoch") : fmt::format("@gap {}-{}", gap.from, gap.to));
        std::lock_guard lock(mutex_);
        gaps_.push_back(gap);
    }

private:
    std::vector<TopicGap>& gaps_;
    std::mutex& mutex_;
    const std::optional<std::string> since_;
    Session session_;
};

struct Node {
    std::vector<TopicGap> gaps;
    std::mutex mutex;
    std::unique_ptr<TestServer> server;

    explicit Node(const std::string& url, std::function<void(RedisBrokerConfig&)> tune = {})
    {
        server = std::make_unique<TestServer>(
            [this](ServletContextHandler& context) {
                context.addHealth("/health");
                context.addMetrics("/metrics");
                context.addWebSocket("/t", [this](WebSocketServletFactory& f) {
                    f.addMapping("/", [this](const UpgradeRequest& request, UpgradeResponse&) {
                        return std::make_shared<Subscriber>(gaps, mutex, request.queryParameter("since"));
                    });
                });
            },
            2, [&](Server& s) {
                RedisBrokerConfig c;
                c.url = url;
                c.publishTimeout = 500ms;
                c.pingInterval = 200ms;
                c.reconnectDelayMin = 50ms;
                c.reconnectDelayMax = 200ms;
                if (tune) tune(c);
                s.setRedisBroker(c);
            });
    }
    Server& srv() { return server->server(); }
    std::unique_ptr<RawClient> subscriber(const std::string& path = "/t")
    {
        const auto before = srv().subscriberCount("news");
        auto c = std::make_unique<RawClient>(server->port());
        REQUIRE(c->handshake(path).status == 101);
        waitUntil([&] { return srv().subscriberCount("news") == before + 1; });
        waitUntilReady();
        return c;
    }
    /// Connected, "news" subscribed in Redis and in sync.
    void waitUntilReady()
    {
        waitUntil([&] {
            const auto s = srv().brokerState();
            return s.connected && s.recovering == 0 && (srv().subscriberCount("news") == 0 || s.topics == 1);
        });
    }
    std::size_t gapCount()
    {
        std::lock_guard lock(mutex);
        return gaps.size();
    }
    template <class P>
    static void waitUntil(P done, std::chrono::milliseconds timeout = 10s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
        REQUIRE(done());
    }
};

/// Publishes `text` on `node` and waits for the outcome.
std::error_code publishAndWait(Server& node, const std::string& text)
{
    std::promise<std::error_code> outcome;
    node.publish("news", Message::text(text), [&](std::error_code ec) { outcome.set_value(ec); });
    auto f = outcome.get_future();
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
}

std::vector<std::string> readTexts(RawClient& c, std::size_t n, std::chrono::milliseconds timeout = 5s)
{
    std::vector<std::string> out;
    while (out.size() < n) {
        auto f = c.readFrame(timeout);
        if (!f || f->opcode != 0x1) break;
        out.push_back(std::move(f->payload));
    }
    return out;
}

std::vector<std::string> numbered(const std::string& prefix, int from, int to)
{
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
    return out;
}

}  // namespace

TEST_CASE("broker: a Redis URL is checked when it is set")
{
    for (const char* bad : {"http://localhost", "redis://", "redis://host:0", "redis://host:70000", "redis://h/x",
                            "rediss://"}) {
        CAPTURE(bad);
        Server s;
        RedisBrokerConfig c;
        c.url = bad;
        CHECK_THROWS_AS(s.setRedisBroker(c), std::invalid_argument);
    }
    const auto a = detail::RedisAddress::parse("redis://:secret@[::1]:7000/3");
    CHECK(a.host == "::1");
    CHECK(a.port == 7000);
    CHECK(a.password == "secret");
    CHECK(a.db == 3);
    CHECK(detail::RedisAddress::parse("redis://cache").port == 6379);
    CHECK(detail::RedisAddress::parse("rediss://cache").tls);
    Server s;
    RedisBrokerConfig c;
    c.url = "rediss://cache";
    c.tlsCaFile = "/nonexistent/ca.pem";
    CHECK_THROWS_WITH_AS(s.setRedisBroker(c), doctest::Contains("/nonexistent/ca.pem"), std::invalid_argument);
    CHECK_FALSE(Server().brokerState().configured);
}

TEST_CASE("broker: two nodes deliver every publish once, in one order, the publisher's node included")
{
    RedisServer redis;
    Node a(redis.url()), b(redis.url());
    auto onA = a.subscriber();
    auto onB = b.subscriber();

    // Publishers on both nodes at once; each publish waits for Redis's answer.
    constexpr int perNode = 200;
    std::atomic<int> failures{0};
    auto publisher = [&](Server& s, const std::string& prefix) {
        for (int i = 0; i < perNode; ++i)
            if (publishAndWait(s, prefix + std::to_string(i))) ++failures;
    };
    std::thread ta(publisher, std::ref(a.srv()), "a"), tb(publisher, std::ref(b.srv()), "b");
    ta.join();
    tb.join();
    CHECK(failures == 0);

    const auto gotA = readTexts(*onA, 2 * perNode);
    const auto gotB = readTexts(*onB, 2 * perNode);
    REQUIRE(gotA.size() == 2 * perNode);
    CHECK(gotA == gotB);  // one order for everybody
    // Each publisher's own order is kept, and nothing comes twice (the count says so too).
    std::vector<std::string> fromA, fromB;
    for (const auto& m : gotA) (m[0] == 'a' ? fromA : fromB).push_back(m);
    CHECK(fromA == numbered("a", 0, perNode));
    CHECK(fromB == numbered("b", 0, perNode));
    CHECK_FALSE(onA->readFrame(200ms));  // and nothing more
    CHECK(a.srv().brokerState().published == perNode);
    CHECK(a.srv().brokerState().failed == 0);
}

TEST_CASE("broker: Session::publish skips the publishing session on every node")
{
    RedisServer redis;
    Node a(redis.url()), b(redis.url());
    auto publisher = a.subscriber();
    auto sameNode = a.subscriber();
    auto otherNode = b.subscriber();
    publisher->sendText("pub hello");
    CHECK(readTexts(*sameNode, 1) == std::vector<std::string>{"hello"});
    CHECK(readTexts(*otherNode, 1) == std::vector<std::string>{"hello"});
    CHECK_FALSE(publisher->readFrame(300ms));
}

TEST_CASE("broker: a publish while Redis is down fails within the timeout and reaches nobody")
{
    RedisServer redis;
    Node a(redis.url());
    auto sub = a.subscriber();
    CHECK_FALSE(publishAndWait(a.srv(), "before"));
    CHECK(readTexts(*sub, 1) == std::vector<std::string>{"before"});

    redis.kill();
    Node::waitUntil([&] { return !a.srv().brokerState().connected; });
    const auto start = std::chrono::steady_clock::now();
    const auto ec = publishAndWait(a.srv(), "during");
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(ec == Errc::BrokerUnavailable);
    // At once when its write fails on the dead connection, else at publishTimeout (500 ms)
    // of waiting for a reconnect; never later.
    CHECK(took < 3s);
    CHECK(a.srv().brokerState().failed == 1);

    redis.restart();
    a.waitUntilReady();
    CHECK_FALSE(publishAndWait(a.srv(), "after"));
    // "during" never arrives; "after" does.
    CHECK(readTexts(*sub, 1) == std::vector<std::string>{"after"});
}

TEST_CASE("broker: what a node missed while its subscriber connection was down comes from the history, in order")
{
    RedisServer redis;
    Node a(redis.url());
    // b reconnects slowly, so that a publishes while b is away.
    Node b(redis.url(), [](RedisBrokerConfig& c) {
        c.reconnectDelayMin = 600ms;
        c.reconnectDelayMax = 600ms;
    });
    auto onB = b.subscriber();
    auto onA = a.subscriber();
    for (int i = 0; i < 5; ++i) CHECK_FALSE(publishAndWait(a.srv(), "m" + std::to_string(i)));
    REQUIRE(readTexts(*onB, 5) == numbered("m", 0, 5));

    // Every subscriber connection goes (both nodes'), the commands connections stay.
    redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    Node::waitUntil([&] { return !b.srv().brokerState().connected; });
    a.waitUntilReady();  // a is back long before b
    for (int i = 5; i < 25; ++i) CHECK_FALSE(publishAndWait(a.srv(), "m" + std::to_string(i)));
    b.waitUntilReady();
    for (int i = 25; i < 30; ++i) CHECK_FALSE(publishAndWait(a.srv(), "m" + std::to_string(i)));

    CHECK(readTexts(*onB, 25) == numbered("m", 5, 30));
    CHECK(readTexts(*onA, 30) == numbered("m", 0, 30));
    CHECK_FALSE(onB->readFrame(200ms));
    const auto s = b.srv().brokerState();
    CHECK(s.recovered >= 20);
    CHECK(s.resubscribes >= 1);
    CHECK(s.gaps == 0);
    CHECK(b.gapCount() == 0);
}

TEST_CASE("broker: Redis killed and restarted with appendfsync always loses nothing it acknowledged")
{
    RedisServer redis(RedisServer::Persistence::AppendFsyncAlways);
    Node a(redis.url()), b(redis.url());
    auto onB = b.subscriber();
    std::vector<std::string> acknowledged;
    for (int i = 0; i < 10; ++i)
        if (!publishAndWait(a.srv(), "m" + std::to_string(i))) acknowledged.push_back("m" + std::to_string(i));
    redis.kill();
    for (int i = 10; i < 13; ++i) CHECK(publishAndWait(a.srv(), "m" + std::to_string(i)) == Errc::BrokerUnavailable);
    redis.restart();
    a.waitUntilReady();
    b.waitUntilReady();
    for (int i = 13; i < 20; ++i)
        if (!publishAndWait(a.srv(), "m" + std::to_string(i))) acknowledged.push_back("m" + std::to_string(i));
    CHECK(acknowledged.size() == 17);
    CHECK(readTexts(*onB, acknowledged.size()) == acknowledged);
    CHECK_FALSE(onB->readFrame(200ms));
    CHECK(b.gapCount() == 0);
}

TEST_CASE("broker: a Redis that lost its data is a new epoch, and subscribers are told")
{
    RedisServer redis;  // no persistence
    Node a(redis.url()), b(redis.url());
    auto onB = b.subscriber();
    CHECK_FALSE(publishAndWait(a.srv(), "old"));
    CHECK(readTexts(*onB, 1) == std::vector<std::string>{"old"});

    redis.restart();
    a.waitUntilReady();
    b.waitUntilReady();
    CHECK_FALSE(publishAndWait(a.srv(), "new"));
    CHECK(readTexts(*onB, 1) == std::vector<std::string>{"new"});
    Node::waitUntil([&] { return b.gapCount() >= 1; });
    std::lock_guard lock(b.mutex);
    CHECK(b.gaps.front().newEpoch);
    CHECK(b.srv().brokerState().gaps >= 1);
}

TEST_CASE("broker: a topic's Redis subscription follows its local subscribers")
{
    RedisServer redis;
    Node a(redis.url());
    CHECK(a.srv().brokerState().topics == 0);
    {
        auto sub = a.subscriber();
        CHECK(a.srv().brokerState().topics == 1);
        CHECK(redis.command({"PUBSUB", "NUMSUB", "wharf:c:news"}) == "wharf:c:news\n1");
        sub->sendClose(1000);
        Node::waitUntil([&] { return a.srv().brokerState().topics == 0; });
    }
    Node::waitUntil([&] { return redis.command({"PUBSUB", "NUMSUB", "wharf:c:news"}) == "wharf:c:news\n0"; });
}

TEST_CASE("broker: its state shows in the metrics, and /health says 503 while Redis is away")
{
    RedisServer redis;
    Node a(redis.url());
    auto sub = a.subscriber();
    CHECK_FALSE(publishAndWait(a.srv(), "one"));
    auto get = [&](std::string_view target) {
        RawClient c(a.server->port());
        return c.get(target);
    };
    CHECK(get("/health").status == 200);
    auto metrics = get("/metrics").body;
    CHECK(metrics.find("\nwharf_broker_connected 1\n") != std::string::npos);
    CHECK(metrics.find("\nwharf_broker_topics 1\n") != std::string::npos);
    CHECK(metrics.find("\nwharf_broker_publishes_total 1\n") != std::string::npos);
    CHECK(a.srv().metrics().broker.configured);

    redis.kill();
    Node::waitUntil([&] { return !a.srv().brokerState().connected; });
    const auto health = get("/health");
    CHECK(health.status == 503);
    CHECK(health.body == "broker unavailable\n");
    CHECK(get("/metrics").body.find("\nwharf_broker_connected 0\n") != std::string::npos);
}

TEST_CASE("broker: what fell out of the history window is a gap the subscribers are told of, never a silent skip")
{
    RedisServer redis;
    auto small = [](RedisBrokerConfig& c) { c.historySize = 5; };
    Node a(redis.url(), small);
    Node b(redis.url(), [](RedisBrokerConfig& c) {
        c.historySize = 5;
        c.reconnectDelayMin = 600ms;
        c.reconnectDelayMax = 600ms;
    });
    auto onB = b.subscriber();
    CHECK_FALSE(publishAndWait(a.srv(), "m0"));
    REQUIRE(readTexts(*onB, 1) == std::vector<std::string>{"m0"});
    redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    Node::waitUntil([&] { return !b.srv().brokerState().connected; });
    for (int i = 1; i <= 20; ++i) CHECK_FALSE(publishAndWait(a.srv(), "m" + std::to_string(i)));
    b.waitUntilReady();
    // Offsets 2-16 (m1-m15) are gone; the last five come from the history, in order.
    CHECK(readTexts(*onB, 5) == numbered("m", 16, 21));
    Node::waitUntil([&] { return b.gapCount() == 1; });
    std::lock_guard lock(b.mutex);
    CHECK(b.gaps[0].from == 2);
    CHECK(b.gaps[0].to == 16);
    CHECK_FALSE(b.gaps[0].newEpoch);
}

TEST_CASE("broker: a goodbye published by an onStopping listener reaches the node's subscribers before their 1001")
{
    RedisServer redis;
    auto node = std::make_unique<Node>(redis.url());
    auto sub = node->subscriber();
    Server& s = node->srv();
    // (Listeners are added before start; this one is added through a second server below.)
    std::vector<TopicGap> gaps;
    std::mutex mutex;
    TestServer stopping(
        [&](ServletContextHandler& context) {
            context.addWebSocket("/t", [&](WebSocketServletFactory& f) {
                f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) {
                    return std::make_shared<Subscriber>(gaps, mutex, std::nullopt);
                });
            });
        },
        2, [&](Server& server) {
            RedisBrokerConfig c;
            c.url = redis.url();
            server.setRedisBroker(c);
            server.onStopping([&server] { server.publish("news", Message::text("bye"), [](std::error_code) {}); });
        });
    RawClient client(stopping.port());
    REQUIRE(client.handshake("/t").status == 101);
    Node::waitUntil([&] {
        const auto st = stopping.server().brokerState();
        return st.connected && st.topics == 1 && st.recovering == 0;
    });
    std::thread stopper([&] { stopping.server().stop(); });
    auto bye = client.readFrame(5s);
    REQUIRE(bye);
    CHECK(bye->opcode == 0x1);
    CHECK(bye->payload == "bye");
    auto close = client.readFrame(5s);
    REQUIRE(close);
    CHECK(close->opcode == 0x8);
    client.sendClose(1001);
    stopper.join();
    // The other node got it too.
    CHECK(readTexts(*sub, 1) == std::vector<std::string>{"bye"});
    (void)s;
}

TEST_CASE("broker: rediss:// verifies Redis's certificate and carries the topics over TLS")
{
    RedisServer redis(RedisServer::Persistence::None, true);
    const auto ca = TlsTestCerts::get().caCertificate;
    Node a(redis.url(), [&](RedisBrokerConfig& c) { c.tlsCaFile = ca; });
    Node b(redis.url(), [&](RedisBrokerConfig& c) { c.tlsCaFile = ca; });
    auto onB = b.subscriber();
    CHECK_FALSE(publishAndWait(a.srv(), "secret"));
    CHECK(readTexts(*onB, 1) == std::vector<std::string>{"secret"});

    // The system CAs did not sign the test CA's certificate: no connection, publishes fail.
    Node untrusting(redis.url(), [](RedisBrokerConfig& c) { c.tlsCaFile = "/etc/ssl/certs/ca-certificates.crt"; });
    std::this_thread::sleep_for(300ms);
    CHECK_FALSE(untrusting.srv().brokerState().connected);
    CHECK(publishAndWait(untrusting.srv(), "x") == Errc::BrokerUnavailable);
}

TEST_CASE("broker: a Redis that lost acknowledged writes (offsets going back in one epoch) is told as a new epoch, and new messages still arrive")
{
    RedisServer redis;
    Node a(redis.url());
    Node b(redis.url(), [](RedisBrokerConfig& c) {
        c.reconnectDelayMin = 600ms;
        c.reconnectDelayMax = 600ms;
    });
    auto onB = b.subscriber();
    for (int i = 0; i < 5; ++i) CHECK_FALSE(publishAndWait(a.srv(), "m" + std::to_string(i)));
    REQUIRE(readTexts(*onB, 5) == numbered("m", 0, 5));
    // As a crash with appendfsync everysec could leave it: the last three offsets undone
    // (here with the whole history; a real rollback keeps the stream's first entries).
    redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    Node::waitUntil([&] { return !b.srv().brokerState().connected; });
    redis.command({"HSET", "wharf:m:news", "s", "2"});
    redis.command({"DEL", "wharf:h:news"});
    b.waitUntilReady();
    for (int i = 0; i < 2; ++i) CHECK_FALSE(publishAndWait(a.srv(), "n" + std::to_string(i)));
    // Offsets 3 and 4 again, but new messages: delivered, not dropped as duplicates.
    CHECK(readTexts(*onB, 2) == numbered("n", 0, 2));
    Node::waitUntil([&] { return b.gapCount() == 1; });
    std::lock_guard lock(b.mutex);
    CHECK(b.gaps[0].newEpoch);
}

// ---------------------------------------------------------------------------------------
// Recovery by position: Session::subscribe(topic, since) and onSubscribed

namespace {

/// The position in an "@at epoch:offset" line.
TopicPosition atLine(RawClient& c)
{
    auto f = c.readFrame(5s);
    REQUIRE(f);
    REQUIRE(f->payload.starts_with("@at "));
    auto position = TopicPosition::parse(f->payload.substr(4));
    REQUIRE(position);
    return *position;
}

/// Publishes "m<from>" ... "m<to - 1>" on `node`, each waiting for Redis's answer.
void publishRange(Server& node, int from, int to)
{
    for (int i = from; i < to; ++i) REQUIRE_FALSE(publishAndWait(node, "m" + std::to_string(i)));
}

}  // namespace

TEST_CASE("broker: a topic position reads and prints as epoch:offset")
{
    const auto p = TopicPosition::parse("3fa9c0:42");
    REQUIRE(p);
    CHECK(p->epoch == "3fa9c0");
    CHECK(p->offset == 42);
    CHECK(p->toString() == "3fa9c0:42");
    CHECK(TopicPosition::parse(":0") == TopicPosition{"", 0});
    for (const char* bad : {"", "abc", "abc:", "abc:-1", "abc:1x", "a-b:1", "abc:99999999999999999999"})
        CHECK_MESSAGE(!TopicPosition::parse(bad), bad);
}

TEST_CASE("broker: a subscriber's position comes before the topic's messages, and counting from it is exact")
{
    // A fresh topic, one publisher: message "m<i>" is the topic's offset i + 1. A client
    // subscribes on the other node while the publisher runs; whatever position it is
    // given, the next message it receives must be the one right after it.
    RedisServer redis;
    Node a(redis.url()), b(redis.url());
    auto keeper = a.subscriber();  // the topic exists (and has its epoch) before publishing
    constexpr int total = 300;
    std::thread publisher([&] { publishRange(a.srv(), 0, total); });
    Node::waitUntil([&] { return a.srv().brokerState().published >= 50; });
    auto c = b.subscriber("/t?since=");
    const auto at = atLine(*c);
    CHECK(!at.epoch.empty());
    publisher.join();
    REQUIRE(at.offset < total);
    const auto got = readTexts(*c, total - at.offset);
    CHECK(got == numbered("m", static_cast<int>(at.offset), total));
    CHECK_FALSE(c->readFrame(200ms));
    CHECK(readTexts(*keeper, total) == numbered("m", 0, total));
}

TEST_CASE("broker: a client that reconnects with its position gets what it missed, then the live messages, once each")
{
    RedisServer redis;
    Node a(redis.url()), b(redis.url());
    auto keeper = a.subscriber();  // the topic stays live on node a throughout
    auto first = a.subscriber("/t?since=");
    auto at = atLine(*first);
    CHECK(at.offset == 0);
    publishRange(b.srv(), 0, 10);
    CHECK(readTexts(*first, 10) == numbered("m", 0, 10));
    at.offset += 10;  // the client counts the topic's messages
    first->close();
    Node::waitUntil([&] { return a.srv().subscriberCount("news") == 1; });
    publishRange(b.srv(), 10, 30);  // missed

    // Reconnects to node a with its position while node b keeps publishing: what it
    // missed comes from the history, what is published meanwhile is held for it.
    constexpr int total = 230;
    std::thread publisher([&] { publishRange(b.srv(), 30, total); });
    auto again = a.subscriber("/t?since=" + at.toString());
    CHECK(atLine(*again) == at);  // nothing of it was lost
    publisher.join();
    CHECK(readTexts(*again, total - 10) == numbered("m", 10, total));
    CHECK_FALSE(again->readFrame(200ms));
    CHECK(a.gapCount() == 0);
    CHECK(a.srv().brokerState().recovered >= 20);

    // The same on the other node, which had no subscriber of the topic yet (it syncs the
    // topic first, and places the client after that).
    auto elsewhere = b.subscriber("/t?since=" + TopicPosition{at.epoch, 200}.toString());
    CHECK(atLine(*elsewhere) == TopicPosition{at.epoch, 200});
    CHECK(readTexts(*elsewhere, 30) == numbered("m", 200, total));
    CHECK_FALSE(elsewhere->readFrame(200ms));
}

TEST_CASE("broker: a position older than the history window is a gap, then what the window still has")
{
    RedisServer redis;
    Node a(redis.url(), [](RedisBrokerConfig& c) { c.historySize = 5; });
    auto keeper = a.subscriber();
    auto first = a.subscriber("/t?since=");
    const auto at = atLine(*first);
    first->close();
    publishRange(a.srv(), 0, 20);
    auto again = a.subscriber("/t?since=" + at.toString());
    CHECK(readTexts(*again, 1) == std::vector<std::string>{fmt::format("@gap {}-{}", at.offset + 1, at.offset + 15)});
    CHECK(atLine(*again) == TopicPosition{at.epoch, at.offset + 15});
    CHECK(readTexts(*again, 5) == numbered("m", 15, 20));
    CHECK_FALSE(again->readFrame(200ms));
}

TEST_CASE("broker: a position in an epoch Redis no longer has, or beyond its last offset, is a new-epoch gap")
{
    RedisServer redis;
    Node a(redis.url());
    auto keeper = a.subscriber();
    publishRange(a.srv(), 0, 3);
    CHECK(readTexts(*keeper, 3).size() == 3);
    for (const bool sameEpoch : {false, true}) {
        CAPTURE(sameEpoch);
        auto probe = a.subscriber("/t?since=");  // learns the current position
        const auto now = atLine(*probe);
        CHECK(now.offset >= 3);
        probe->close();
        Node::waitUntil([&] { return a.srv().subscriberCount("news") == 1; });
        const TopicPosition since = sameEpoch ? TopicPosition{now.epoch, now.offset + 5} : TopicPosition{"0bad", 2};
        auto c = a.subscriber("/t?since=" + since.toString());
        CHECK(readTexts(*c, 1) == std::vector<std::string>{"@gap epoch"});
        CHECK(atLine(*c) == now);  // from the current position on
        REQUIRE_FALSE(publishAndWait(a.srv(), "next"));
        CHECK(readTexts(*c, 1) == std::vector<std::string>{"next"});
        CHECK(readTexts(*keeper, 1) == std::vector<std::string>{"next"});
        c->close();
        Node::waitUntil([&] { return a.srv().subscriberCount("news") == 1; });
    }
}
