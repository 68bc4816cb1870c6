#pragma once
// Topics across servers through Redis (docs/scaling.md). Each publish runs one Lua script
// that numbers it in its topic (an offset, within an epoch that changes only when Redis
// lost the topic), appends it to the topic's history (a capped stream) and PUBLISHes it on
// the topic's channel. Every node, the publisher's included, delivers what comes back on
// its subscriber connection to its local subscribers (TopicRegistry::publish), in offset
// order: a duplicate is dropped, a gap is filled from the history before anything later is
// delivered, and what the history no longer has becomes an onTopicGap. A node therefore
// delivers each message once, in the one order Redis gave it, and a publish that Redis
// did not accept reached nobody.
//
// Threads: publish() and topicActive() from any thread post to the broker's strand, where
// everything else runs (both Redis connections included).

#include "broker/RedisConnection.hpp"
#include "websocket/Topics.hpp"

#include <wharf/Broker.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace wharf::detail {

class RedisBroker : public TopicBroker, public std::enable_shared_from_this<RedisBroker> {
public:
    /// Throws std::invalid_argument for a malformed URL. `topics` is the registry whose
    /// local subscribers get the messages.
    RedisBroker(RedisBrokerConfig config, TopicRegistry& topics);
    ~RedisBroker() override;

    /// Connects on `ioc`'s threads (returns at once; Redis may come later).
    void start(boost::asio::io_context& ioc);
    /// Disconnects; publishes waiting for Redis fail with ServerStopping. Returns once the
    /// strand has done so (call it from a thread that is not the io_context's, while the
    /// io_context still runs). Publishes after it fail at once.
    void stop();

    // TopicBroker
    void publish(std::string_view topic, const Message& message, std::uint64_t except, PublishHandler done) override;
    void topicActive(std::string_view topic, bool active) override;
    void place(std::string_view topic, std::weak_ptr<WsConnection> connection, std::uint64_t ticket,
               std::optional<TopicPosition> since) override;

    BrokerState state() const;
    /// No publish of this node waits for Redis, and every one Redis accepted has come back
    /// to this node's subscribers (a stop waits for this before closing the sessions).
    bool settled() const noexcept;
    std::chrono::milliseconds publishTimeout() const noexcept { return config_.publishTimeout; }

private:
    struct Incoming {  // one message as Redis numbered it
        std::uint64_t offset = 0;
        std::string epoch;
        bool text = true;
        std::string origin;  // node/connection that published it
        std::string payload;
    };
    struct Pending {  // a publish not answered yet
        std::string topic;
        std::string payload;
        bool text = true;
        std::uint64_t except = 0;
        PublishHandler done;
        std::chrono::steady_clock::time_point deadline;
    };
    struct Placement {  // a new subscriber to place (TopicBroker::place)
        std::weak_ptr<WsConnection> connection;
        std::uint64_t ticket = 0;
        std::optional<TopicPosition> since;
    };
    enum class Phase : std::uint8_t { Subscribing, Syncing, Live };
    struct TopicState {
        Phase phase = Phase::Subscribing;
        bool known = false;      // epoch/last hold the topic's position in Redis
        bool syncSent = false;   // a history read is on its way
        std::string epoch;
        std::uint64_t last = 0;  // the last offset delivered
        std::uint64_t generation = 0;  // changes when the topic is dropped and made again
        std::vector<Incoming> buffered;  // live messages while Syncing
        std::deque<Pending> held;  // publishes made before the first sync: sent after it
        std::deque<std::uint64_t> ownAcked;  // offsets of our publishes not delivered here yet
        std::vector<Placement> placing;  // new subscribers waiting for the topic to be live
    };

    static std::optional<Incoming> parse(std::string_view message);

    void onCommandsUp();
    void onSubscriberUp();
    void onSubscriberDown();
    void onPush(RedisReply& reply);
    void activate(const std::string& topic);
    void deactivate(const std::string& topic);
    void sync(const std::string& topic, TopicState& state);
    void onSynced(const std::string& topic, TopicState& state, RedisReply& reply);
    void receive(const std::string& topic, TopicState& state, Incoming message);
    void deliver(const std::string& topic, TopicState& state, const Incoming& message);
    void gap(const std::string& topic, TopicState& state, const TopicGap& gap);
    void settle(TopicState& state);
    void goLive(const std::string& topic, TopicState& state);
    void placeNow(const std::string& topic, Placement p);
    void placeWaiting(const std::string& topic, TopicState& state);
    void onPlacementHistory(const std::string& topic, TopicState& state, Placement p, RedisReply& reply);
    void placed(const std::string& topic, const Placement& p, TopicPosition position, std::optional<TopicGap> gap,
                std::vector<OffsetMessage> history);
    void enqueue(Pending p);
    void send(Pending p);
    void expire();
    void armExpiry();
    void fail(Pending& p, Errc why);
    std::string channelOf(std::string_view topic) const { return channelPrefix_ + std::string(topic); }

    const RedisBrokerConfig config_;
    const RedisAddress address_;
    const std::string prefix_;
    const std::string nodeId_;  // tells this node's publishes (and its sessions) apart
    TopicRegistry& topics_;
    // The publish script's arguments that never change, formatted once.
    const std::string channelPrefix_;
    const std::string historySizeArg_, historyTtlArg_, metaTtlArg_;

    // Attachment to a running server: publish() posts to the strand while attached.
    mutable std::mutex attachMutex_;
    std::optional<RedisConnection::Strand> strand_;
    bool attached_ = false;

    // The strand's own state.
    std::shared_ptr<RedisConnection> commands_;
    std::shared_ptr<RedisConnection> subscriber_;
    std::unique_ptr<boost::asio::steady_timer> expiry_;
    bool expiryArmed_ = false;
    bool everSubscribed_ = false;
    std::unordered_map<std::string, TopicState> states_;
    std::uint64_t nextGeneration_ = 0;
    std::deque<Pending> unsent_;     // waiting for the commands connection
    std::deque<Pending> inFlight_;   // sent, in order; a timed-out one keeps its place (done empty)

    // For state(), from any thread.
    std::atomic<bool> commandsUp_{false}, subscriberUp_{false};
    std::atomic<std::size_t> topicCount_{0}, recovering_{0}, pending_{0}, undelivered_{0};
    std::atomic<std::uint64_t> connects_{0}, resubscribes_{0}, recovered_{0}, gaps_{0}, published_{0}, failed_{0};
};

}  // namespace wharf::detail
