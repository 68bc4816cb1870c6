#pragma once
// Topics (pub/sub): which sessions subscribe to what, and a publish's fan-out.
//
// A publish holds its topic's lock while it queues the one shared frame on every
// subscriber (WsConnection::deliver): every subscriber therefore sees a topic's messages
// in one order, whichever threads publish, and a publish lands in each subscriber's send
// queue at the moment of the call, in order with that session's own sends. Queuing is the
// only per-subscriber work; the writes happen on each connection's strand, where the
// connections of one strand are flushed by one hand-off (FlushGroup).
//
// Lock order: a connection's subscription list, then a shard of the registry, then a
// topic, then a connection's send queue. Nothing that holds a later one takes an earlier
// one, and no user code runs under any of them except the activity listener (see
// Server::setTopicActivityListener), which must not call back into topics.

#include "detail/SmallMutex.hpp"

#include <wharf/Session.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wharf::detail {

class WsConnection;
struct PreparedFrame;

/// A topic's message with its offset (Redis broker; 0 in-process).
struct OffsetMessage {
    std::uint64_t offset = 0;
    Message message;
};

/// One topic while it has subscribers.
struct Topic {
    explicit Topic(std::string n) : name(std::move(n)) {}
    const std::string name;
    SmallMutex mutex;  // guards the rest; held for a whole publish
    std::vector<WsConnection*> subscribers;  // each leaves before it is destroyed
    std::optional<SlowSubscriberPolicy> policy;  // overrides the subscriber's mapping
    /// Subscribers whose starting point the broker has not settled yet (it reads the
    /// topic's position, and with a `since` its history): what is published meanwhile is
    /// held here for them, in order, until TopicRegistry::release queues it after the
    /// history. Empty but for the moments after a subscribe with the Redis broker.
    struct Placing {
        WsConnection* connection;
        std::uint64_t ticket;  // one per subscribe of that connection
        std::vector<OffsetMessage> held;
    };
    std::vector<Placing> placing;
};

/// What carries publishes between servers (broker/RedisBroker): a publish goes to it
/// instead of to the local subscribers, and it hands each message back to every node's
/// registry (TopicRegistry::publish) once the broker has ordered it.
class TopicBroker {
public:
    virtual ~TopicBroker() = default;
    /// Any thread. `except`: the id of a connection not to deliver to (0: none).
    virtual void publish(std::string_view topic, const Message& message, std::uint64_t except,
                         PublishHandler done) = 0;
    /// A topic gained its first local subscriber (true) or lost its last (false); called
    /// in that order per topic, under the registry's shard lock: must only queue the change.
    virtual void topicActive(std::string_view topic, bool active) = 0;
    /// `connection` joined `topic` with its messages held (TopicRegistry::join with
    /// `place`), after topicActive for it: find where it starts (after `since`, with what
    /// the history has from there) and tell it, WsConnection::placed. Any thread; queues.
    virtual void place(std::string_view topic, std::weak_ptr<WsConnection> connection, std::uint64_t ticket,
                       std::optional<TopicPosition> since) = 0;
};

class TopicRegistry {
public:
    /// Adds `c` to `name` (created on its first subscriber: `created`). Null when `c` was
    /// subscribed already. A `ticket` other than 0 holds what is published for `c` until
    /// release() with that ticket (the broker places it first: TopicBroker::place).
    std::shared_ptr<Topic> join(std::string_view name, WsConnection& c, bool& created, std::uint64_t ticket = 0);
    /// Removes `c` from `topic` (gone with its last subscriber: returns true then).
    bool leave(const std::shared_ptr<Topic>& topic, WsConnection& c);
    /// Ends the hold of join(`ticket`): queues `history` for `c`, then what was held for it
    /// with an offset after the history's last (or after `after`), and from then on
    /// publishes reach it directly. False when that hold is gone (`c` left the topic).
    bool release(const std::shared_ptr<Topic>& topic, WsConnection& c, std::uint64_t ticket,
                 const std::vector<OffsetMessage>& history, std::uint64_t after);
    /// Whether join(`ticket`)'s hold for `c` is still there (not released, `c` not gone).
    bool holds(Topic& topic, const WsConnection& c, std::uint64_t ticket) const;
    /// Asks the broker to place `c` (see TopicBroker::place).
    void place(std::string_view name, std::weak_ptr<WsConnection> c, std::uint64_t ticket,
               std::optional<TopicPosition> since)
    {
        broker_->place(name, std::move(c), ticket, std::move(since));
    }

    struct Published {
        std::size_t queued = 0;   // subscribers the frame was queued for
        std::size_t dropped = 0;  // skipped under SlowSubscriberPolicy::Drop
        std::size_t closed = 0;   // closed under SlowSubscriberPolicy::Close
    };
    /// Queues `frame` for every subscriber of `name` but `except`; any thread. Slow
    /// subscribers get their policy once the topic's lock is released.
    /// `offset`: the message's in its topic (broker), which held subscribers keep it by.
    Published publish(std::string_view name, const Message& message, std::uint64_t except = 0,
                      std::uint64_t offset = 0);
    /// A publish of the application: through the broker when there is one, else publish()
    /// (then `done`, if any, runs before this returns). Returns what publish() queued; 0
    /// with a broker (the message arrives later, through it).
    std::size_t route(std::string_view name, const Message& message, std::uint64_t except, PublishHandler done);
    std::size_t subscriberCount(std::string_view name) const;
    /// The subscribers of `name` right now (to tell them something; any thread).
    std::vector<std::shared_ptr<WsConnection>> subscribersOf(std::string_view name) const;

    /// Publishes go through `broker` from now on; set before the server starts.
    void setBroker(std::shared_ptr<TopicBroker> broker) { broker_ = std::move(broker); }
    bool hasBroker() const noexcept { return broker_ != nullptr; }

    /// Per-topic policy, also for topics that do not exist yet; nullopt restores the mappings'.
    void setPolicy(std::string_view name, std::optional<SlowSubscriberPolicy> policy);
    void setActivityListener(TopicActivityListener listener) { activity_ = std::move(listener); }

    /// Messages skipped for slow subscribers since the start (Drop policy), all topics.
    std::uint64_t droppedTotal() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, std::shared_ptr<Topic>, Hash, std::equal_to<>> topics;
    };
    Shard& shardOf(std::string_view name) const noexcept
    {
        return const_cast<Shard&>(shards_[Hash{}(name) % shards_.size()]);
    }
    std::shared_ptr<Topic> find(std::string_view name) const;
    std::optional<SlowSubscriberPolicy> policyFor(std::string_view name) const;
    /// Applies the slow-subscriber policy to `c` (topic's lock released).
    void slow(std::string_view name, const std::shared_ptr<WsConnection>& c, SlowSubscriberPolicy policy,
              const Message& message, Published& result);

    std::array<Shard, 16> shards_;  // publishes to different topics rarely meet on a lock
    TopicActivityListener activity_;  // set before start
    std::shared_ptr<TopicBroker> broker_;  // set before start
    mutable std::mutex policiesMutex_;
    std::unordered_map<std::string, SlowSubscriberPolicy, Hash, std::equal_to<>> policies_;
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace wharf::detail
