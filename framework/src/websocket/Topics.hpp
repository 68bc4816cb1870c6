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

/// One topic while it has subscribers.
struct Topic {
    explicit Topic(std::string n) : name(std::move(n)) {}
    const std::string name;
    SmallMutex mutex;  // guards the rest; held for a whole publish
    std::vector<WsConnection*> subscribers;  // each leaves before it is destroyed
    std::optional<SlowSubscriberPolicy> policy;  // overrides the subscriber's mapping
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
};

class TopicRegistry {
public:
    /// Adds `c` to `name` (created on its first subscriber: `created`). Null when `c` was
    /// subscribed already.
    std::shared_ptr<Topic> join(std::string_view name, WsConnection& c, bool& created);
    /// Removes `c` from `topic` (gone with its last subscriber: returns true then).
    bool leave(const std::shared_ptr<Topic>& topic, WsConnection& c);

    struct Published {
        std::size_t queued = 0;   // subscribers the frame was queued for
        std::size_t dropped = 0;  // skipped under SlowSubscriberPolicy::Drop
        std::size_t closed = 0;   // closed under SlowSubscriberPolicy::Close
    };
    /// Queues `frame` for every subscriber of `name` but `except`; any thread. Slow
    /// subscribers get their policy once the topic's lock is released.
    Published publish(std::string_view name, const Message& message, std::uint64_t except = 0);
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

    std::array<Shard, 16> shards_;  // publishes to different topics rarely meet on a lock
    TopicActivityListener activity_;  // set before start
    std::shared_ptr<TopicBroker> broker_;  // set before start
    mutable std::mutex policiesMutex_;
    std::unordered_map<std::string, SlowSubscriberPolicy, Hash, std::equal_to<>> policies_;
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace wharf::detail
