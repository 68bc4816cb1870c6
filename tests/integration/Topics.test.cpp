// Topics (issue 12): subscribe/publish, exactly once and in one order across threads,
// unsubscribing while messages are in flight, clean-up at close, both slow-subscriber
// policies as the slow client sees them, the allocations of a publish, and compressed
// fan-out to mixed deflate and plain subscribers.

#include "conformance/Conformance.hpp"
#include "support/AllocationCounter.hpp"
#include "support/RawClient.hpp"
#include "support/Recorders.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// Every session of /t subscribes to "news" on connect; texts "sub X" / "unsub X"
/// (un)subscribe, "pub X text" publishes from the session, "echo text" sends text back,
/// "ordered" sends, publishes and sends; anything else is ignored.
class TopicClient : public WebSocketListener {
public:
    explicit TopicClient(std::vector<Session>& sessions, std::mutex& mutex) : sessions_(sessions), mutex_(mutex) {}
    void onConnect(Session session) override
    {
        session_ = session;
        {
            // Listed before it subscribes: the tests wait for the subscriber count, then read
            // `sessions` without the lock (ThreadSanitizer saw the read beside a push_back).
            std::lock_guard lock(mutex_);
            sessions_.push_back(session);
        }
        session.subscribe("news");
    }
    void onText(std::string_view m) override
    {
        if (m.starts_with("sub ")) session_.subscribe(m.substr(4));
        else if (m.starts_with("since ")) session_.subscribe("recovered", *TopicPosition::parse(m.substr(6)));
        else if (m.starts_with("unsub ")) session_.unsubscribe(m.substr(6));
        else if (m.starts_with("pub ")) {
            const auto rest = m.substr(4);
            const auto space = rest.find(' ');
            session_.publish(rest.substr(0, space), Message::text(rest.substr(space + 1)));
        } else if (m.starts_with("echo ")) {
            session_.sendText(m.substr(5));
        } else if (m == "ordered") {
            // Direct sends and a publish reaching this session keep their call order.
            session_.sendText("first");
            server->publish("news", Message::text("second"));
            session_.sendText("third");
        }
    }
    void onTopicGap(std::string_view topic, const TopicGap& gap) override
    {
        session_.sendText(fmt::format("gap {} {}-{}{}", topic, gap.from, gap.to, gap.newEpoch ? " epoch" : ""));
    }
    void onSubscribed(std::string_view topic, const TopicPosition& position) override
    {
        session_.sendText(fmt::format("subscribed {} {}", topic, position.toString()));
    }
    Server* server = nullptr;

private:
    std::vector<Session>& sessions_;
    std::mutex& mutex_;
    Session session_;
};

struct Fixture {
    std::vector<Session> sessions;
    std::mutex mutex;
    std::function<void(WebSocketServletFactory&)> tune;
    std::unique_ptr<TestServer> server;

    explicit Fixture(unsigned threads = 2, std::function<void(WebSocketServletFactory&)> t = {},
                     std::function<void(Server&)> configure = {})
        : tune(std::move(t))
    {
        server = std::make_unique<TestServer>(
            [this](ServletContextHandler& context) {
                context.addWebSocket("/t", [this](WebSocketServletFactory& f) {
                    if (tune) tune(f);
                    f.addMapping("/", [this](const UpgradeRequest&, UpgradeResponse&) {
                        auto l = std::make_shared<TopicClient>(sessions, mutex);
                        l->server = &server->server();
                        return l;
                    });
                });
            },
            threads, configure);
    }
    Server& srv() { return server->server(); }
    /// Connects `n` raw clients and waits until all are subscribed to "news".
    std::vector<std::unique_ptr<RawClient>> connect(std::size_t n, std::string_view extraHeaders = {})
    {
        std::vector<std::unique_ptr<RawClient>> clients;
        const std::size_t before = srv().subscriberCount("news");
        for (std::size_t i = 0; i < n; ++i) {
            clients.push_back(std::make_unique<RawClient>(server->port()));
            REQUIRE(clients.back()->handshake("/t", extraHeaders).status == 101);
        }
        waitFor([&] { return srv().subscriberCount("news") == before + n; });
        return clients;
    }
    template <class P>
    static void waitFor(P done)
    {
        for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(5ms);
        REQUIRE(done());
    }
};

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

}  // namespace

TEST_SUITE("topics")
{
    TEST_CASE("a publish reaches every subscriber; Session::publish skips the publisher")
    {
        Fixture fx;
        auto clients = fx.connect(3);
        CHECK(fx.srv().subscriberCount("news") == 3);
        CHECK(fx.srv().metrics().topics == 1);
        CHECK(fx.srv().metrics().subscribers == 3);
        CHECK(fx.srv().publish("news", Message::text("hello")) == 3);
        for (auto& c : clients) CHECK(readTexts(*c, 1) == std::vector<std::string>{"hello"});
        CHECK(fx.srv().publish("nobody-listens", Message::text("x")) == 0);

        clients[0]->sendText("pub news from-0");
        CHECK(readTexts(*clients[1], 1) == std::vector<std::string>{"from-0"});
        CHECK(readTexts(*clients[2], 1) == std::vector<std::string>{"from-0"});
        CHECK_FALSE(clients[0]->readFrame(200ms));  // not to itself

        // topics(), isSubscribed(), a second subscribe is refused, an empty topic too.
        Session s0 = fx.sessions[1];
        CHECK(s0.topics() == std::vector<std::string>{"news"});
        CHECK(s0.subscribe("sport"));
        CHECK_FALSE(s0.subscribe("sport"));
        CHECK_FALSE(s0.subscribe(""));
        CHECK(s0.isSubscribed("sport"));
        CHECK(fx.srv().metrics().topics == 2);
        CHECK(fx.srv().metrics().subscribers == 4);
        CHECK(s0.topics() == std::vector<std::string>{"news", "sport"});
        CHECK(s0.unsubscribe("sport"));
        CHECK_FALSE(s0.unsubscribe("sport"));
        CHECK_FALSE(s0.isSubscribed("sport"));
        CHECK(fx.srv().subscriberCount("sport") == 0);
        CHECK(fx.srv().metrics().topics == 1);
        CHECK(fx.srv().metrics().subscribers == 3);
        CHECK(Session().publish("news", Message::text("x")) == 0);
        CHECK_FALSE(Session().subscribe("news"));
    }

    TEST_CASE("a session's direct sends and a publish it receives keep their call order")
    {
        Fixture fx;
        auto clients = fx.connect(1);
        clients[0]->sendText("ordered");
        CHECK(readTexts(*clients[0], 3) == std::vector<std::string>{"first", "second", "third"});
    }

    TEST_CASE("exactly once and in one order: 4 threads, 100 subscribers, 10 publishers on their own threads")
    {
        Fixture fx(4);
        auto clients = fx.connect(100);
        constexpr int publishers = 10;
        constexpr int perPublisher = 100;
        std::vector<std::thread> threads;
        std::atomic<std::size_t> queued{0};
        for (int p = 0; p < publishers; ++p)
            threads.emplace_back([&, p] {
                for (int i = 0; i < perPublisher; ++i)
                    queued += fx.srv().publish("news", Message::text(std::to_string(p) + ":" + std::to_string(i)));
            });
        for (auto& t : threads) t.join();
        CHECK(queued == 100u * publishers * perPublisher);

        std::vector<std::string> first;
        for (std::size_t c = 0; c < clients.size(); ++c) {
            auto got = readTexts(*clients[c], publishers * perPublisher);
            REQUIRE(got.size() == publishers * perPublisher);
            // Each publisher's messages in its order, none twice, none missing...
            std::map<int, int> next;
            for (const auto& m : got) {
                const int p = std::stoi(m.substr(0, m.find(':')));
                const int i = std::stoi(m.substr(m.find(':') + 1));
                REQUIRE(i == next[p]);
                ++next[p];
            }
            // ... and the same interleaving for every subscriber.
            if (c == 0) first = got;
            else REQUIRE(got == first);
        }
    }

    TEST_CASE("unsubscribing while messages are in flight: a prefix arrives, nothing after the call")
    {
        Fixture fx;
        auto clients = fx.connect(1);  // one at a time: sessions[i] is clients[i]
        clients.push_back(std::move(fx.connect(1)[0]));
        Session leaver = fx.sessions[0];
        std::atomic<bool> stop{false};
        std::atomic<int> published{0};
        std::thread publisher([&] {
            for (int i = 0; !stop; ++i) {
                fx.srv().publish("news", Message::text(std::to_string(i)));
                published = i + 1;
            }
        });
        Fixture::waitFor([&] { return published > 200; });
        REQUIRE(leaver.unsubscribe("news"));
        const int afterUnsubscribe = published;
        Fixture::waitFor([&] { return published > afterUnsubscribe + 200; });
        stop = true;
        publisher.join();
        fx.srv().publish("news", Message::text("end"));

        // The one that left: 0, 1, 2, ... without a gap, ending at most one message after
        // the unsubscribe call returned (the publish in progress then), no "end".
        std::vector<std::string> got;
        while (auto f = clients[0]->readFrame(300ms)) got.push_back(f->payload);
        REQUIRE(!got.empty());
        for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == std::to_string(i));
        CHECK(static_cast<int>(got.size()) <= afterUnsubscribe + 1);
        // The one that stayed gets everything, "end" last.
        auto all = readTexts(*clients[1], static_cast<std::size_t>(published) + 1);
        REQUIRE(all.size() == static_cast<std::size_t>(published) + 1);
        CHECK(all.back() == "end");
    }

    TEST_CASE("closed sessions leave their topics; the activity listener hears first and last")
    {
        std::mutex m;
        std::vector<std::string> activity;
        Fixture fx(2, {}, [&](Server& s) {
            s.setTopicActivityListener([&](std::string_view topic, bool active) {
                std::lock_guard lock(m);
                activity.push_back(std::string(active ? "+" : "-") + std::string(topic));
            });
        });
        {
            auto clients = fx.connect(3);
            clients[1]->sendText("sub extra");
            Fixture::waitFor([&] { return fx.srv().subscriberCount("extra") == 1; });
            clients[0]->sendClose(1000);
            CHECK(clients[0]->readUntilClose()->closeCode() == 1000);
            Fixture::waitFor([&] { return fx.srv().subscriberCount("news") == 2; });
            clients[1]->close();  // dropped without a close frame
            Fixture::waitFor([&] { return fx.srv().subscriberCount("news") == 1 && fx.srv().subscriberCount("extra") == 0; });
        }
        Fixture::waitFor([&] { return fx.srv().subscriberCount("news") == 0; });
        std::lock_guard lock(m);
        CHECK(activity == std::vector<std::string>{"+news", "+extra", "-extra", "-news"});
    }

    TEST_CASE("slow subscriber, policy Close: closed with 1008 after what it had queued; the others get all")
    {
        Fixture fx(2, [](WebSocketServletFactory& f) { f.setMaxSendQueueSize(64 * 1024); });
        auto clients = fx.connect(2);  // [0] never reads until the end, [1] reads along
        const std::string payload(4096, 'x');
        std::size_t n = 0;
        std::vector<std::string> fastGot;
        for (; n < 2000 && fx.srv().subscriberCount("news") == 2; ++n) {
            fx.srv().publish("news", Message::text(std::to_string(n) + " " + payload));
            auto got = readTexts(*clients[1], 1);
            REQUIRE(got.size() == 1);
            fastGot.push_back(got[0].substr(0, got[0].find(' ')));
        }
        REQUIRE(fx.srv().subscriberCount("news") == 1);  // the slow one left when it was closed
        for (std::size_t i = 0; i < fastGot.size(); ++i) CHECK(fastGot[i] == std::to_string(i));
        // The slow client: a gap-free prefix of the messages, then 1008.
        std::vector<Frame> before;
        auto close = clients[0]->readUntilClose(5s, &before);
        REQUIRE(close);
        CHECK(close->closeCode() == 1008);
        CHECK(close->closeReason() == "slow subscriber");
        REQUIRE(!before.empty());
        for (std::size_t i = 0; i < before.size(); ++i)
            CHECK(before[i].payload.substr(0, before[i].payload.find(' ')) == std::to_string(i));
    }

    TEST_CASE("slow subscriber, policy Drop (per topic): skipped, counted, reported; it stays connected")
    {
        std::atomic<int> reported{0};
        Fixture fx(2, [&](WebSocketServletFactory& f) {
            f.setMaxSendQueueSize(64 * 1024);
            f.setSlowSubscriberPolicy(SlowSubscriberPolicy::Close,
                                      [&](const Session&, std::string_view topic, const Message& m) {
                                          CHECK(topic == "news");
                                          CHECK(m.size() > 4096);
                                          ++reported;
                                      });
        }, [](Server& s) { s.setTopicPolicy("news", SlowSubscriberPolicy::Drop); });
        auto clients = fx.connect(1);
        const std::string payload(4096, 'x');
        // The client never reads, so the kernel's buffers fill (the sender's grows up to
        // tcp_wmem's maximum, 4 MB here), then the 64 KiB queue, then publishes are dropped.
        // How soon depends on how fast this thread publishes against the server's writes
        // (an ASan build once drained 1.6 MB without a drop), so publish until 100 have been
        // dropped, with a cap (32 MB) that no kernel absorbs.
        int total = 0;
        std::size_t queued = 0;
        for (; total < 8000 && fx.srv().droppedPublishes() < 100; ++total)
            queued += fx.srv().publish("news", Message::text(std::to_string(total) + " " + payload));
        const auto dropped = fx.srv().droppedPublishes();
        CHECK(dropped > 0);
        CHECK(queued + dropped == static_cast<std::size_t>(total));
        CHECK(reported == static_cast<int>(dropped));
        CHECK(fx.srv().subscriberCount("news") == 1);
        fx.srv().publish("news", Message::text("end"));
        // What arrives is in order, with gaps where it was dropped, and ends with "end".
        std::vector<std::string> got;
        while (auto f = clients[0]->readFrame(2s)) {
            got.push_back(f->payload.substr(0, f->payload.find(' ')));
            if (got.back() == "end") break;
        }
        REQUIRE(got.size() == queued + 1);
        CHECK(got.back() == "end");
        for (std::size_t i = 1; i + 1 < got.size(); ++i) CHECK(std::stoi(got[i]) > std::stoi(got[i - 1]));
    }

    TEST_CASE("a publish allocates nothing per subscriber")
    {
        Fixture fx(1);
        constexpr std::size_t subscribers = 200;
        auto clients = fx.connect(subscribers);
        auto publisher = fx.connect(1);
        publisher[0]->sendText("unsub news");
        Fixture::waitFor([&] { return fx.srv().subscriberCount("news") == subscribers; });
        auto drained = [&] {
            std::lock_guard lock(fx.mutex);
            return std::all_of(fx.sessions.begin(), fx.sessions.end(), [](const Session& s) { return s.bufferedAmount() == 0; });
        };
        constexpr int publishes = 20;
        for (std::size_t size : {16u, 4096u}) {
            CAPTURE(size);
            const std::string payload(size, 'a');
            // From a listener on the server's thread, as a chat does: 20 "pub" messages
            // in one write, built before counting.
            std::string batch;
            for (int i = 0; i < publishes; ++i) batch += RawClient::buildFrame(0x1, "pub news " + payload);
            batch += RawClient::buildFrame(0x1, "echo done");  // answered after the publishes
            // Warm up: buffers and the I/O thread's caches reach their steady size.
            publisher[0]->sendRaw(batch);
            REQUIRE(readTexts(*publisher[0], 1) == std::vector<std::string>{"done"});
            for (auto& c : clients) REQUIRE(readTexts(*c, publishes).size() == publishes);
            std::size_t allocations;
            {
                CountAllocations counter;
                publisher[0]->sendRaw(batch);
                REQUIRE(publisher[0]->readFrame());  // (a few allocations of the test's own)
                Fixture::waitFor(drained);
                allocations = counter.count();
            }
            for (auto& c : clients) REQUIRE(readTexts(*c, publishes).size() == publishes);
            MESSAGE("size ", size, ", from the server's thread: ", allocations, " allocations for ", publishes,
                    " publishes to ", subscribers, " subscribers");
            // Per publish the Message (frame and bytes); per loop turn a hand-off to each
            // strand with subscribers (64 per server thread; asio recycles only a few of
            // their allocations). One allocation per delivery would be 4,000.
            CHECK(allocations < publishes * subscribers / 10);

            // From a thread of the application's: the same, coalesced over the publishes
            // that come before the I/O thread flushes.
            {
                CountAllocations counter;
                for (int i = 0; i < publishes; ++i) fx.srv().publish("news", Message::text(payload));
                Fixture::waitFor(drained);
                allocations = counter.count();
            }
            for (auto& c : clients) REQUIRE(readTexts(*c, publishes).size() == publishes);
            MESSAGE("size ", size, ", from another thread: ", allocations, " allocations");
            CHECK(allocations < publishes * subscribers / 10);
        }
    }

    TEST_CASE("compressed fan-out: one compressed frame per parameter class, plain frames to the others")
    {
        Fixture fx(2, [](WebSocketServletFactory& f) {
            DeflateOptions o;
            o.enabled = true;
            o.threshold = 64;
            f.setDeflateOptions(o);
        });
        auto plain = fx.connect(2);
        auto noTakeover = fx.connect(2, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
        auto takeover = fx.connect(2, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        std::string text;
        for (int i = 0; i < 50; ++i) text += "the quick brown fox " + std::to_string(i) + " ";
        REQUIRE(fx.srv().publish("news", Message::text(text)) == 6);
        for (auto& c : plain) {
            auto f = c->readFrame();
            REQUIRE(f);
            CHECK_FALSE(f->rsv1);
            CHECK(f->payload == text);
        }
        std::vector<std::string> compressed;
        for (auto* group : {&noTakeover, &takeover})
            for (auto& c : *group) {
                auto f = c->readFrame();
                REQUIRE(f);
                CHECK(f->rsv1);
                compressed.push_back(f->payload);
                conformance::ClientInflate inflater;
                CHECK(inflater.inflateMessage(f->payload) == text);
            }
        // All four deflate sessions have the same class here (window 15): one frame for all.
        CHECK(std::all_of(compressed.begin(), compressed.end(), [&](const std::string& p) { return p == compressed[0]; }));

        // A context-takeover session's own messages are compressed with its context; after
        // a shared frame (made without it) that context starts anew, or the client, whose
        // window now holds the shared message, would resolve back-references wrongly.
        std::string other;
        for (int i = 0; i < 50; ++i) other += "jumps over the lazy dog " + std::to_string(i) + " ";
        conformance::ClientInflate kept;  // takeover[1]'s history, message by message
        auto next = [&] {
            auto f = takeover[1]->readFrame();
            REQUIRE(f);
            return f->rsv1 ? kept.inflateMessage(f->payload) : f->payload;
        };
        CHECK(kept.inflateMessage(compressed[3]) == text);
        takeover[1]->sendText("echo " + other);
        CHECK(next() == other);
        REQUIRE(fx.srv().publish("news", Message::text(text + "!")) == 6);
        CHECK(next() == text + "!");
        takeover[1]->sendText("echo " + other);
        CHECK(next() == other);
    }

    TEST_CASE("without a broker topics keep no history: a subscribe from a position says so, and no position is given")
    {
        Fixture fx(2);
        auto clients = fx.connect(1);
        clients[0]->sendText("since 3fa9:7");
        auto gap = clients[0]->readFrame(5s);
        REQUIRE(gap);
        CHECK(gap->payload == "gap recovered 0-0 epoch");
        Fixture::waitFor([&] { return fx.srv().subscriberCount("recovered") == 1; });
        CHECK(fx.srv().publish("recovered", Message::text("live")) == 1);
        auto live = clients[0]->readFrame(5s);
        REQUIRE(live);
        CHECK(live->payload == "live");  // (no "subscribed" line: onSubscribed is for the broker)
        CHECK_FALSE(clients[0]->readFrame(200ms));
    }
}
