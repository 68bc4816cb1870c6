#include "websocket/Topics.hpp"

#include "detail/WsConnection.hpp"

#include <wharf/Log.hpp>

#include <algorithm>

namespace wharf::detail {

std::shared_ptr<Topic> TopicRegistry::join(std::string_view name, WsConnection& c, bool& created, std::uint64_t ticket)
{
    Shard& shard = shardOf(name);
    std::lock_guard shardLock(shard.mutex);
    auto it = shard.topics.find(name);
    if (it == shard.topics.end()) {
        auto topic = std::make_shared<Topic>(std::string(name));
        topic->policy = policyFor(name);
        it = shard.topics.emplace(topic->name, std::move(topic)).first;
    }
    const auto& topic = it->second;
    bool first;
    {
        std::lock_guard lock(topic->mutex);
        auto& subs = topic->subscribers;
        if (std::find(subs.begin(), subs.end(), &c) != subs.end()) return nullptr;
        subs.push_back(&c);
        first = subs.size() == 1;
        if (ticket) topic->placing.push_back({&c, ticket, {}});
    }
    created = first;
    if (first && broker_) broker_->topicActive(name, true);
    if (first && activity_) activity_(name, true);  // under the shard's lock: in order with the last-left call
    return topic;
}

bool TopicRegistry::leave(const std::shared_ptr<Topic>& topic, WsConnection& c)
{
    Shard& shard = shardOf(topic->name);
    std::lock_guard shardLock(shard.mutex);
    bool last;
    {
        std::lock_guard lock(topic->mutex);
        auto& subs = topic->subscribers;
        const auto it = std::find(subs.begin(), subs.end(), &c);
        if (it == subs.end()) return false;
        // Order among subscribers means nothing (each has its own queue): swap-remove.
        *it = subs.back();
        subs.pop_back();
        last = subs.empty();
        std::erase_if(topic->placing, [&](const Topic::Placing& p) { return p.connection == &c; });
    }
    if (!last) return false;
    // Under the shard's lock a topic with no subscribers is never joined: gone now, a
    // later subscriber makes a new one. A publish that found it just before gets 0.
    if (auto it = shard.topics.find(topic->name); it != shard.topics.end() && it->second == topic)
        shard.topics.erase(it);
    if (broker_) broker_->topicActive(topic->name, false);
    if (activity_) activity_(topic->name, false);
    return true;
}

std::shared_ptr<Topic> TopicRegistry::find(std::string_view name) const
{
    Shard& shard = shardOf(name);
    std::lock_guard lock(shard.mutex);
    const auto it = shard.topics.find(name);
    return it == shard.topics.end() ? nullptr : it->second;
}

std::optional<SlowSubscriberPolicy> TopicRegistry::policyFor(std::string_view name) const
{
    std::lock_guard lock(policiesMutex_);
    const auto it = policies_.find(name);
    return it == policies_.end() ? std::nullopt : std::optional(it->second);
}

void TopicRegistry::setPolicy(std::string_view name, std::optional<SlowSubscriberPolicy> policy)
{
    {
        std::lock_guard lock(policiesMutex_);
        if (policy) policies_.insert_or_assign(std::string(name), *policy);
        else if (auto it = policies_.find(name); it != policies_.end()) policies_.erase(it);
    }
    if (auto topic = find(name)) {
        std::lock_guard lock(topic->mutex);
        topic->policy = policy;
    }
}

std::size_t TopicRegistry::subscriberCount(std::string_view name) const
{
    const auto topic = find(name);
    if (!topic) return 0;
    std::lock_guard lock(topic->mutex);
    return topic->subscribers.size();
}

std::vector<std::shared_ptr<WsConnection>> TopicRegistry::subscribersOf(std::string_view name) const
{
    std::vector<std::shared_ptr<WsConnection>> out;
    const auto topic = find(name);
    if (!topic) return out;
    std::lock_guard lock(topic->mutex);
    out.reserve(topic->subscribers.size());
    for (WsConnection* c : topic->subscribers)
        if (auto self = c->weak_from_this().lock()) out.push_back(std::move(self));
    return out;
}

std::size_t TopicRegistry::route(std::string_view name, const Message& message, std::uint64_t except,
                                 PublishHandler done)
{
    if (broker_) {
        broker_->publish(name, message, except, std::move(done));
        return 0;
    }
    const auto queued = publish(name, message, except).queued;
    if (done) done({});
    return queued;
}

TopicRegistry::Published TopicRegistry::publish(std::string_view name, const Message& message,
                                                std::uint64_t except, std::uint64_t offset)
{
    Published result;
    const auto& frame = MessageAccess::frame(message);
    if (!frame) return result;
    const auto topic = find(name);
    if (!topic) return result;
    // The slow subscribers, dealt with once the topic's lock is released (closing and the
    // drop listener must not run under it). Local, not per thread: a drop listener may
    // publish again. Empty (no allocation) unless a subscriber is slow.
    struct Slow {
        std::shared_ptr<WsConnection> connection;
        SlowSubscriberPolicy policy;
    };
    std::vector<Slow> slow;
    {
        std::lock_guard lock(topic->mutex);
        const bool placing = !topic->placing.empty();  // (rare: only just after a subscribe with a broker)
        for (WsConnection* c : topic->subscribers) {
            if (except && c->id() == except) continue;
            if (placing) {
                const auto p = std::find_if(topic->placing.begin(), topic->placing.end(),
                                            [&](const Topic::Placing& p) { return p.connection == c; });
                if (p != topic->placing.end()) {
                    p->held.push_back({offset, message});
                    ++result.queued;
                    continue;
                }
            }
            const Errc why = c->deliver(frame);
            if (why == Errc{}) {
                ++result.queued;
            } else if (why == Errc::SendQueueFull) {
                const auto policy = topic->policy.value_or(c->policy().slowSubscriberPolicy);
                if (auto self = c->weak_from_this().lock()) slow.push_back({std::move(self), policy});
            }
            // (Otherwise it is closing or closed: it leaves the topic on its own.)
        }
    }
    for (auto& [c, policy] : slow) this->slow(name, c, policy, message, result);
    if (result.dropped) dropped_.fetch_add(result.dropped, std::memory_order_relaxed);
    return result;
}

void TopicRegistry::slow(std::string_view name, const std::shared_ptr<WsConnection>& c, SlowSubscriberPolicy policy,
                         const Message& message, Published& result)
{
    if (policy == SlowSubscriberPolicy::Close) {
        ++result.closed;
        log::debug("ws {}: slow subscriber of topic '{}': closing", c->id(), name);
        c->close(CloseStatus::PolicyViolation, "slow subscriber", CloseMode::AfterQueued);
        return;
    }
    ++result.dropped;  // (counted in dropped_ by the caller, once)
    if (const auto& listener = c->policy().publishDropListener) {
        try {
            listener(Session(c), name, message);
        } catch (const std::exception& e) {
            log::error("publish drop listener threw: {}", e.what());
        } catch (...) {
            log::error("publish drop listener threw");
        }
    }
}

namespace {

/// join(`ticket`)'s hold for `c` in `topic` (its lock held), or placing.end().
std::vector<Topic::Placing>::iterator findPlacing(Topic& topic, const WsConnection& c, std::uint64_t ticket)
{
    return std::find_if(topic.placing.begin(), topic.placing.end(),
                        [&](const Topic::Placing& p) { return p.connection == &c && p.ticket == ticket; });
}

}  // namespace

bool TopicRegistry::holds(Topic& topic, const WsConnection& c, std::uint64_t ticket) const
{
    std::lock_guard lock(topic.mutex);
    return findPlacing(topic, c, ticket) != topic.placing.end();
}

bool TopicRegistry::release(const std::shared_ptr<Topic>& topic, WsConnection& c, std::uint64_t ticket,
                            const std::vector<OffsetMessage>& history, std::uint64_t after)
{
    std::vector<Message> skipped;  // send queue full: the policy decides once unlocked
    SlowSubscriberPolicy policy;
    {
        std::lock_guard lock(topic->mutex);
        const auto p = findPlacing(*topic, c, ticket);
        if (p == topic->placing.end()) return false;
        policy = topic->policy.value_or(c.policy().slowSubscriberPolicy);
        const auto queue = [&](const OffsetMessage& m) {
            if (skipped.empty() || policy == SlowSubscriberPolicy::Drop) {
                if (c.deliver(MessageAccess::frame(m.message)) == Errc::SendQueueFull) skipped.push_back(m.message);
            }
        };
        for (const auto& m : history) {
            queue(m);
            after = std::max(after, m.offset);
        }
        for (const auto& m : p->held)
            if (m.offset > after || m.offset == 0) queue(m);
        topic->placing.erase(p);
    }
    if (!skipped.empty()) {
        auto self = c.weak_from_this().lock();
        Published counted;
        if (!self) return true;
        if (policy == SlowSubscriberPolicy::Close) slow(topic->name, self, policy, skipped.front(), counted);
        else
            for (const auto& m : skipped) slow(topic->name, self, policy, m, counted);
        if (counted.dropped) dropped_.fetch_add(counted.dropped, std::memory_order_relaxed);
    }
    return true;
}

}  // namespace wharf::detail
