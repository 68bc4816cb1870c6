#include "broker/RedisBroker.hpp"

#include "detail/WsConnection.hpp"

#include <wharf/Log.hpp>

#include <boost/asio/post.hpp>

#include <openssl/evp.h>

#include <fmt/format.h>

#include <charconv>
#include <future>
#include <random>
#include <unistd.h>

namespace wharf::detail {

namespace net = boost::asio;

namespace {

// KEYS: the topic's meta hash (e: epoch, s: last offset) and its history stream.
// ARGV: channel, payload, history size, history TTL (s), meta TTL (s), an epoch for a
// topic Redis does not know (any more), kind and origin ("t:node/connection").
// The message, as history keeps it and the channel carries it: "offset:epoch:kind:origin:payload".
constexpr std::string_view publishScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 's', 1)
local message = offset .. ':' .. epoch .. ':' .. ARGV[7] .. ':' .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-0', 'd', message)
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[1], message)
return offset
)lua";

// KEYS: meta hash, history stream. ARGV: the first offset wanted ("" for the position
// only), the most messages to return, an epoch for a topic Redis does not know (any more),
// meta TTL (s). Returns {epoch, last offset, messages...}. The epoch is made here, not at
// the first publish, so that a subscriber's position always names one (onSubscribed).
constexpr std::string_view historyScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
local top = redis.call('HGET', KEYS[1], 's')
local out = {epoch, top}
if ARGV[1] == '' then return out end
local entries = redis.call('XRANGE', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
for _, e in ipairs(entries) do out[#out + 1] = e[2][2] end
return out
)lua";

// A topic's offsets and epoch outlive its history by far: a topic that comes back after
// its history expired continues its offsets (no spurious "new epoch").
constexpr std::chrono::seconds metaTtl = std::chrono::hours(24 * 30);

std::string sha1Hex(std::string_view text)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    std::string hex;
    for (unsigned i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

const std::string& publishSha()
{
    static const std::string sha = sha1Hex(publishScript);
    return sha;
}

const std::string& historySha()
{
    static const std::string sha = sha1Hex(historyScript);
    return sha;
}

std::string randomHex()
{
    std::random_device device;
    return fmt::format("{:08x}{:08x}", device(), device());
}

RedisAddress addressOf(const RedisBrokerConfig& config)
{
    auto address = RedisAddress::parse(config.url);
    address.caFile = config.tlsCaFile;
    std::error_code ec;
    if (!address.caFile.empty() && !std::filesystem::is_regular_file(address.caFile, ec))
        throw std::invalid_argument(fmt::format("RedisBrokerConfig::tlsCaFile '{}' is not a readable file",
                                                address.caFile.string()));
    return address;
}

std::uint64_t toUnsigned(std::string_view text)
{
    std::uint64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

}  // namespace

RedisBroker::RedisBroker(RedisBrokerConfig config, TopicRegistry& topics)
    : config_(std::move(config)), address_(addressOf(config_)), prefix_(config_.prefix),
      nodeId_(randomHex()), topics_(topics), channelPrefix_(prefix_ + ":c:"),
      historySizeArg_(std::to_string(config_.historySize)),
      historyTtlArg_(std::to_string(std::max<std::int64_t>(1, config_.historyTtl.count()))),
      metaTtlArg_(std::to_string(std::max(metaTtl, config_.historyTtl).count()))
{
    if (config_.historySize == 0) throw std::invalid_argument("RedisBrokerConfig::historySize must be at least 1");
    if (config_.publishTimeout <= std::chrono::milliseconds(0))
        throw std::invalid_argument("RedisBrokerConfig::publishTimeout must be positive");
}

RedisBroker::~RedisBroker() = default;

void RedisBroker::start(net::io_context& ioc)
{
    auto strand = net::make_strand(ioc);
    {
        std::lock_guard lock(attachMutex_);
        strand_ = strand;
        attached_ = true;
    }
    net::post(strand, [self = shared_from_this(), strand] {
        const RedisConnection::Timing timing{self->config_.pingInterval, self->config_.reconnectDelayMin,
                                             self->config_.reconnectDelayMax};
        self->expiry_ = std::make_unique<net::steady_timer>(strand);
        std::weak_ptr<RedisBroker> weak = self;
        self->commands_ = std::make_shared<RedisConnection>(strand, self->address_, timing,
            RedisConnection::Mode::Commands, "commands",
            RedisConnection::Events{
                [weak] { if (auto s = weak.lock()) s->onCommandsUp(); },
                [weak](const std::string&) {
                    if (auto s = weak.lock()) s->commandsUp_.store(false);
                },
                {}});
        self->subscriber_ = std::make_shared<RedisConnection>(strand, self->address_, timing,
            RedisConnection::Mode::Subscriber, "subscriber",
            RedisConnection::Events{
                [weak] { if (auto s = weak.lock()) s->onSubscriberUp(); },
                [weak](const std::string&) { if (auto s = weak.lock()) s->onSubscriberDown(); },
                [weak](RedisReply& r) { if (auto s = weak.lock()) s->onPush(r); }});
        self->commands_->start();
        self->subscriber_->start();
    });
}

void RedisBroker::stop()
{
    std::optional<RedisConnection::Strand> strand;
    {
        std::lock_guard lock(attachMutex_);
        if (!attached_) return;
        attached_ = false;
        strand = strand_;
    }
    std::promise<void> stopped;
    net::post(*strand, [&] {
        if (commands_) commands_->stop();
        if (subscriber_) subscriber_->stop();
        if (expiry_) expiry_->cancel();
        for (auto* queue : {&unsent_, &inFlight_})
            for (auto& p : *queue) fail(p, Errc::ServerStopping);
        unsent_.clear();
        inFlight_.clear();
        for (auto& [name, state] : states_)
            for (auto& p : state.held) fail(p, Errc::ServerStopping);
        states_.clear();
        undelivered_.store(0);
        topicCount_.store(0);
        recovering_.store(0);
        pending_.store(0);
        commandsUp_.store(false);
        subscriberUp_.store(false);
        // The connections and timer go with this strand's io_context: dropped here, on it.
        commands_.reset();
        subscriber_.reset();
        expiry_.reset();
        everSubscribed_ = false;
        stopped.set_value();
    });
    stopped.get_future().wait();
    // The strand belongs to the io_context, which the server destroys after this: a strand
    // kept until the broker goes (with the Server) would outlive its service.
    std::lock_guard lock(attachMutex_);
    strand_.reset();
}

bool RedisBroker::settled() const noexcept
{
    return pending_.load() == 0 && undelivered_.load() == 0;
}

BrokerState RedisBroker::state() const
{
    BrokerState s;
    s.configured = true;
    s.connected = commandsUp_.load() && subscriberUp_.load();
    s.topics = topicCount_.load();
    s.recovering = recovering_.load();
    s.connects = connects_.load();
    s.resubscribes = resubscribes_.load();
    s.recovered = recovered_.load();
    s.gaps = gaps_.load();
    s.published = published_.load();
    s.failed = failed_.load();
    s.pending = pending_.load();
    return s;
}

// ---------------------------------------------------------------------------------------
// Publishing

void RedisBroker::publish(std::string_view topic, const Message& message, std::uint64_t except, PublishHandler done)
{
    Pending p{std::string(topic), std::string(message.payload()), message.isText(), except, std::move(done),
              std::chrono::steady_clock::now() + config_.publishTimeout};
    std::unique_lock lock(attachMutex_);
    if (!attached_) {
        lock.unlock();
        if (p.done) p.done(make_error_code(Errc::ServerStopping));
        return;
    }
    pending_.fetch_add(1);  // from the call on: a stop that begins now waits for it (settled())
    net::post(*strand_, [self = shared_from_this(), p = std::move(p)]() mutable { self->enqueue(std::move(p)); });
}

void RedisBroker::enqueue(Pending p)
{
    if (!commands_) return fail(p, Errc::ServerStopping);
    // Before a topic's first sync this node does not know where the topic stands: a message
    // numbered before that would be taken for an old one and not delivered here.
    if (auto it = states_.find(p.topic); it != states_.end() && !it->second.known) {
        it->second.held.push_back(std::move(p));
        armExpiry();
        return;
    }
    send(std::move(p));
}

void RedisBroker::send(Pending p)
{
    if (!commands_->isUp()) {
        unsent_.push_back(std::move(p));
        armExpiry();
        return;
    }
    // A publish that waited for the connection until little of its time is left is not
    // sent: its deadline would pass before Redis could answer, the connection would be
    // dropped for it, and Redis may still have taken it, so it would reach the subscribers
    // of a publisher told it failed. Failing it here, never sent, it reached nobody.
    if (p.deadline - std::chrono::steady_clock::now() < config_.publishTimeout / 2) {
        fail(p, Errc::BrokerUnavailable);
        return;
    }
    const std::string meta = prefix_ + ":m:" + p.topic;
    const std::string stream = prefix_ + ":h:" + p.topic;
    const std::string channel = channelOf(p.topic);
    const std::string epoch = randomHex();
    const std::string origin = fmt::format("{}:{}/{}", p.text ? 't' : 'b', nodeId_, p.except);
    inFlight_.push_back(std::move(p));
    commands_->send({"EVALSHA", publishSha(), "2", meta, stream, channel, inFlight_.back().payload, historySizeArg_, historyTtlArg_, metaTtlArg_,
                     epoch, origin},
        [self = shared_from_this()](std::error_code ec, RedisReply* reply) {
            if (self->inFlight_.empty()) return;
            Pending p = std::move(self->inFlight_.front());
            self->inFlight_.pop_front();
            if (ec || !reply || reply->isError()) {
                if (reply && reply->isError()) log::warn("redis: publish to '{}' refused: {}", p.topic, reply->str);
                return self->fail(p, ec == Errc::ServerStopping ? Errc::ServerStopping : Errc::BrokerUnavailable);
            }
            if (p.deadline == std::chrono::steady_clock::time_point{}) return;  // failed by its timeout already
            p.deadline = {};
            self->pending_.fetch_sub(1);
            self->published_.fetch_add(1);
            // Our own message still has to come back to this node's subscribers: a stop
            // waits for that (settled()).
            if (auto it = self->states_.find(p.topic); it != self->states_.end() && reply->integer > 0) {
                const auto offset = static_cast<std::uint64_t>(reply->integer);
                if (offset > it->second.last) {
                    it->second.ownAcked.push_back(offset);
                    self->undelivered_.fetch_add(1);
                }
            }
            if (p.done) p.done({});
        });
    armExpiry();
}

void RedisBroker::fail(Pending& p, Errc why)
{
    if (p.deadline == std::chrono::steady_clock::time_point{}) return;  // told already
    p.deadline = {};
    pending_.fetch_sub(1);
    failed_.fetch_add(1);
    if (!p.done) log::warn("redis: a publish to '{}' failed: {}", p.topic, make_error_code(why).message());
    if (auto done = std::move(p.done)) {
        try {
            done(make_error_code(why));
        } catch (const std::exception& e) {
            log::error("publish handler threw: {}", e.what());
        }
    }
}

void RedisBroker::onCommandsUp()
{
    connects_.fetch_add(1);
    // The scripts first (Redis forgets them when it restarts); the pipeline keeps them
    // ahead of every EVALSHA sent after.
    for (auto script : {publishScript, historyScript}) commands_->send({"SCRIPT", "LOAD", script}, {});
    commandsUp_.store(true);
    auto waiting = std::move(unsent_);
    unsent_.clear();
    for (auto& p : waiting) send(std::move(p));
    for (auto& [name, state] : states_) {
        if (state.phase == Phase::Syncing && !state.syncSent) sync(name, state);
        placeWaiting(name, state);
    }
}

void RedisBroker::armExpiry()
{
    if (expiryArmed_ || !expiry_) return;
    expiryArmed_ = true;
    expiry_->expires_after(std::min(config_.publishTimeout / 4, std::chrono::milliseconds(100)) +
                           std::chrono::milliseconds(1));
    expiry_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
        self->expiryArmed_ = false;
        if (!ec) self->expire();
    });
}

void RedisBroker::expire()
{
    const auto now = std::chrono::steady_clock::now();
    const auto due = [&](const Pending& p) {
        return p.deadline != std::chrono::steady_clock::time_point{} && p.deadline <= now;
    };
    bool more = false;
    // Never sent: certainly delivered to nobody.
    while (!unsent_.empty() && due(unsent_.front())) {
        fail(unsent_.front(), Errc::BrokerUnavailable);
        unsent_.pop_front();
    }
    more |= !unsent_.empty();
    for (auto& [name, state] : states_) {
        while (!state.held.empty() && due(state.held.front())) {
            fail(state.held.front(), Errc::BrokerUnavailable);
            state.held.pop_front();
        }
        more |= !state.held.empty();
    }
    // Sent and not answered: Redis is stuck or the way to it is. The connection is dropped,
    // which fails every publish on it now rather than one timeout after another.
    if (!inFlight_.empty() && due(inFlight_.front())) {
        commands_->fail(fmt::format("no answer to a publish within {} ms", config_.publishTimeout.count()));
        return armExpiry();
    }
    for (const auto& p : inFlight_)
        if (p.deadline != std::chrono::steady_clock::time_point{}) more = true;
    if (more) armExpiry();
}

// ---------------------------------------------------------------------------------------
// Subscribing and delivering

void RedisBroker::topicActive(std::string_view topic, bool active)
{
    std::lock_guard lock(attachMutex_);
    if (!attached_) return;
    net::post(*strand_, [self = shared_from_this(), topic = std::string(topic), active] {
        if (!self->commands_) return;
        if (active) self->activate(topic);
        else self->deactivate(topic);
    });
}

void RedisBroker::activate(const std::string& topic)
{
    auto& state = states_[topic];
    state = TopicState{};
    state.generation = ++nextGeneration_;
    topicCount_.store(states_.size());
    recovering_.fetch_add(1);
    if (subscriber_->isUp()) subscriber_->sendUnanswered({"SUBSCRIBE", channelOf(topic)});
}

void RedisBroker::deactivate(const std::string& topic)
{
    auto it = states_.find(topic);
    if (it == states_.end()) return;
    if (it->second.phase != Phase::Live) recovering_.fetch_sub(1);
    undelivered_.fetch_sub(it->second.ownAcked.size());
    auto held = std::move(it->second.held);
    states_.erase(it);
    topicCount_.store(states_.size());
    if (subscriber_->isUp()) subscriber_->sendUnanswered({"UNSUBSCRIBE", channelOf(topic)});
    for (auto& p : held) send(std::move(p));  // nobody here listens: no position needed
}

void RedisBroker::onSubscriberUp()
{
    connects_.fetch_add(1);
    subscriberUp_.store(true);
    if (states_.empty()) return;
    // Every topic again, in batches: one command per 256 channels.
    std::vector<std::string> channels;
    for (auto& [name, state] : states_) channels.push_back(channelOf(name));
    if (everSubscribed_) resubscribes_.fetch_add(channels.size());
    for (std::size_t i = 0; i < channels.size(); i += 256) {
        std::vector<std::string_view> args{"SUBSCRIBE"};
        for (std::size_t j = i; j < std::min(channels.size(), i + 256); ++j) args.push_back(channels[j]);
        subscriber_->sendUnanswered(args);
    }
}

void RedisBroker::onSubscriberDown()
{
    subscriberUp_.store(false);
    // What arrives from now on may have a hole: every topic syncs again from its last
    // offset once it is subscribed again.
    for (auto& [name, state] : states_) {
        if (state.phase == Phase::Live) recovering_.fetch_add(1);
        state.phase = Phase::Subscribing;
        state.syncSent = false;
        state.buffered.clear();
        ++state.generation;  // a history read in flight is stale
    }
}

void RedisBroker::onPush(RedisReply& reply)
{
    if (reply.type != RedisReply::Type::Array || reply.elements.size() < 3) return;  // PONG and the like
    const std::string& kind = reply.elements[0].str;
    const std::string& channel = reply.elements[1].str;
    if (channel.compare(0, channelPrefix_.size(), channelPrefix_) != 0) return;
    const std::string topic = channel.substr(channelPrefix_.size());
    auto it = states_.find(topic);
    if (it == states_.end()) return;  // unsubscribed meanwhile
    auto& state = it->second;
    if (kind == "subscribe") {
        everSubscribed_ = true;
        if (state.phase != Phase::Subscribing) return;
        state.phase = Phase::Syncing;
        sync(topic, state);
    } else if (kind == "unsubscribe") {
        // An UNSUBSCRIBE of an earlier life of this topic (its last subscriber left and a
        // new one came): until the new SUBSCRIBE is confirmed the channel was not ours, so
        // that confirmation syncs again and reads the hole from the history.
        if (state.phase == Phase::Live) recovering_.fetch_add(1);
        state.phase = Phase::Subscribing;
        state.syncSent = false;
        state.buffered.clear();
        ++state.generation;
    } else if (kind == "message") {
        if (state.phase == Phase::Subscribing) return;  // (cannot happen: the confirmation comes first)
        auto message = parse(reply.elements[2].str);
        if (!message) {
            log::warn("redis: a message on '{}' that is not wharf's; ignored", channel);
            return;
        }
        if (state.phase == Phase::Syncing) state.buffered.push_back(std::move(*message));
        else receive(topic, state, std::move(*message));
    }
}

std::optional<RedisBroker::Incoming> RedisBroker::parse(std::string_view m)
{
    // offset:epoch:kind:node/connection:payload
    Incoming in;
    std::string_view fields[4];
    for (auto& f : fields) {
        const auto colon = m.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        f = m.substr(0, colon);
        m.remove_prefix(colon + 1);
    }
    const auto [p, ec] = std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), in.offset);
    if (ec != std::errc() || in.offset == 0) return std::nullopt;
    in.epoch = std::string(fields[1]);
    if (fields[2] != "t" && fields[2] != "b") return std::nullopt;
    in.text = fields[2] == "t";
    in.origin = std::string(fields[3]);
    in.payload = std::string(m);
    return in;
}

void RedisBroker::sync(const std::string& topic, TopicState& state)
{
    if (!commands_->isUp()) return;  // onCommandsUp sends it
    state.syncSent = true;
    const std::string from = state.known ? std::to_string(state.last + 1) : std::string();
    commands_->send({"EVALSHA", historySha(), "2", prefix_ + ":m:" + topic, prefix_ + ":h:" + topic, from,
                     historySizeArg_, randomHex(), metaTtlArg_},
        [self = shared_from_this(), topic, generation = state.generation](std::error_code ec, RedisReply* reply) {
            auto it = self->states_.find(topic);
            if (it == self->states_.end() || it->second.generation != generation) return;  // stale
            auto& state = it->second;
            state.syncSent = false;
            if (ec || !reply || reply->type != RedisReply::Type::Array || reply->elements.size() < 2) {
                if (reply) log::warn("redis: reading the history of '{}' failed: {}", topic, reply->str);
                return;  // the commands connection is down: onCommandsUp reads it again
            }
            self->onSynced(topic, state, *reply);
        });
}

void RedisBroker::onSynced(const std::string& topic, TopicState& state, RedisReply& reply)
{
    const std::string epoch = reply.elements[0].str;
    const std::uint64_t top = toUnsigned(reply.elements[1].str);
    if (!state.known) {
        // The first sync: from here on.
        state.known = true;
        state.epoch = epoch;
        state.last = top;
        // What came on the channel since it was subscribed is ours to deliver, also what
        // the history read already counted: the channel is gap-free while connected.
        if (!state.buffered.empty() && state.buffered.front().epoch == epoch && state.buffered.front().offset <= top)
            state.last = state.buffered.front().offset - 1;
    } else {
        if (epoch == state.epoch && !epoch.empty() && top < state.last) {
            // Redis went back in time within the epoch (it lost writes it had acknowledged:
            // appendfsync everysec or none, then a crash). The offsets after `top` will be
            // given to new messages, which must not be taken for duplicates; what it lost
            // is gone, as with a new epoch.
            gap(topic, state, TopicGap{0, 0, true});
            state.last = top;
        } else if (epoch != state.epoch) {
            if (!state.epoch.empty()) {
                // Redis lost the topic (a restart without persistence, a flush, eviction):
                // what was published since our last offset is gone with it.
                gap(topic, state, TopicGap{0, 0, true});
            }
            state.epoch = epoch;
            state.last = 0;
        }
        for (std::size_t i = 2; i < reply.elements.size(); ++i) {
            auto message = parse(reply.elements[i].str);
            if (!message || message->offset <= state.last) continue;
            if (message->offset > state.last + 1) gap(topic, state, TopicGap{state.last + 1, message->offset - 1, false});
            deliver(topic, state, *message);
            recovered_.fetch_add(1);
        }
        if (top > state.last) {  // expired or trimmed
            gap(topic, state, TopicGap{state.last + 1, top, false});
            state.last = top;
            settle(state);
        }
    }
    goLive(topic, state);
}

void RedisBroker::goLive(const std::string& topic, TopicState& state)
{
    state.phase = Phase::Live;
    recovering_.fetch_sub(1);
    auto buffered = std::move(state.buffered);
    state.buffered.clear();
    auto held = std::move(state.held);
    state.held.clear();
    for (std::size_t i = 0; i < buffered.size(); ++i) {
        receive(topic, state, std::move(buffered[i]));
        if (state.phase != Phase::Live) {
            // A gap inside what was buffered: it syncs again, and the rest waits for that.
            for (std::size_t j = i + 1; j < buffered.size(); ++j) state.buffered.push_back(std::move(buffered[j]));
            break;
        }
    }
    for (auto& p : held) send(std::move(p));
    placeWaiting(topic, state);
}

void RedisBroker::placeWaiting(const std::string& topic, TopicState& state)
{
    if (state.phase != Phase::Live || !commands_->isUp()) return;
    auto waiting = std::move(state.placing);
    state.placing.clear();
    for (auto& p : waiting) placeNow(topic, std::move(p));  // (`state` stays: nothing here erases it)
}

void RedisBroker::receive(const std::string& topic, TopicState& state, Incoming message)
{
    if (message.epoch != state.epoch) {
        if (!state.epoch.empty()) gap(topic, state, TopicGap{0, 0, true});
        state.epoch = message.epoch;
        state.last = 0;
    }
    if (message.offset <= state.last) return;  // delivered already (from history)
    if (message.offset == state.last + 1) return deliver(topic, state, message);
    // Something between went missing on the way (the subscriber connection is lossy only
    // across a reconnect, but the history says for sure): fill it first.
    state.phase = Phase::Syncing;
    recovering_.fetch_add(1);
    state.buffered.push_back(std::move(message));
    sync(topic, state);
}

void RedisBroker::deliver(const std::string& topic, TopicState& state, const Incoming& message)
{
    state.last = message.offset;
    settle(state);
    // The publisher's own session does not get its message back (Session::publish).
    std::uint64_t except = 0;
    if (const auto slash = message.origin.find('/'); slash != std::string::npos &&
                                                     std::string_view(message.origin).substr(0, slash) == nodeId_)
        except = toUnsigned(std::string_view(message.origin).substr(slash + 1));
    const Message m = message.text ? Message::text(message.payload) : Message::binary(message.payload);
    topics_.publish(topic, m, except, message.offset);
}

// ---------------------------------------------------------------------------------------
// Placing a new subscriber: where it starts, and what it missed since its `since`

void RedisBroker::place(std::string_view topic, std::weak_ptr<WsConnection> connection, std::uint64_t ticket,
                        std::optional<TopicPosition> since)
{
    std::lock_guard lock(attachMutex_);
    if (!attached_) return;
    net::post(*strand_, [self = shared_from_this(), topic = std::string(topic),
                         p = Placement{std::move(connection), ticket, std::move(since)}]() mutable {
        if (self->commands_) self->placeNow(topic, std::move(p));
    });
}

void RedisBroker::placeNow(const std::string& topic, Placement p)
{
    auto it = states_.find(topic);
    if (it == states_.end()) return;  // its last subscriber left: so did this one
    auto& state = it->second;
    // Only a live topic's position is the one its subscribers have: until then (the first
    // sync, a resync after a reconnect) the placement waits, and so do its messages.
    if (state.phase != Phase::Live || !commands_->isUp()) {
        state.placing.push_back(std::move(p));
        return;
    }
    const TopicPosition now{state.epoch, state.last};
    if (!p.since) return placed(topic, p, now, std::nullopt, {});
    if (p.since->epoch != state.epoch || p.since->offset > state.last) {
        // An epoch Redis no longer has, or offsets it took back: what came after is gone.
        return placed(topic, p, now, TopicGap{0, 0, true}, {});
    }
    if (p.since->offset == state.last) return placed(topic, p, *p.since, std::nullopt, {});
    // What it missed is in the history, as far as the window reaches; what is published
    // while that is read is held for it (TopicRegistry::release).
    commands_->send({"EVALSHA", historySha(), "2", prefix_ + ":m:" + topic, prefix_ + ":h:" + topic,
                     std::to_string(p.since->offset + 1), historySizeArg_, randomHex(), metaTtlArg_},
        [self = shared_from_this(), topic, p, generation = state.generation](std::error_code ec,
                                                                             RedisReply* reply) mutable {
            auto it = self->states_.find(topic);
            if (it == self->states_.end()) return;
            auto& state = it->second;
            if (ec || !reply || reply->type != RedisReply::Type::Array || reply->elements.size() < 2 ||
                state.generation != generation || reply->elements[0].str != state.epoch) {
                // The connection dropped, or the topic resynced meanwhile: from the start.
                return self->placeNow(topic, std::move(p));
            }
            self->onPlacementHistory(topic, state, std::move(p), *reply);
        });
}

void RedisBroker::onPlacementHistory(const std::string& topic, TopicState& state, Placement p, RedisReply& reply)
{
    // Messages after `since` up to what this node delivered so far (state.last): every
    // later one reaches the subscriber through the registry, held until it is released.
    std::vector<OffsetMessage> history;
    const std::uint64_t from = p.since->offset + 1;
    for (std::size_t i = 2; i < reply.elements.size(); ++i) {
        auto m = parse(reply.elements[i].str);
        if (!m || m->epoch != state.epoch || m->offset < from || m->offset > state.last) continue;
        if (!history.empty() && m->offset <= history.back().offset) continue;
        history.push_back({m->offset, m->text ? Message::text(m->payload) : Message::binary(m->payload)});
    }
    const std::uint64_t first = history.empty() ? state.last + 1 : history.front().offset;
    std::optional<TopicGap> gap;
    TopicPosition position{state.epoch, p.since->offset};
    if (first > from) {  // trimmed or expired: gone
        gap = TopicGap{from, first - 1, false};
        position.offset = first - 1;
        gaps_.fetch_add(1);
    }
    recovered_.fetch_add(history.size());
    placed(topic, p, std::move(position), gap, std::move(history));
}

void RedisBroker::placed(const std::string& topic, const Placement& p, TopicPosition position,
                         std::optional<TopicGap> gap, std::vector<OffsetMessage> history)
{
    if (auto c = p.connection.lock()) c->placed(topic, p.ticket, std::move(position), gap, std::move(history));
}

void RedisBroker::settle(TopicState& state)
{
    while (!state.ownAcked.empty() && state.ownAcked.front() <= state.last) {
        state.ownAcked.pop_front();
        undelivered_.fetch_sub(1);
    }
}

void RedisBroker::gap(const std::string& topic, TopicState& state, const TopicGap& gap)
{
    if (gap.newEpoch) {  // our acknowledged offsets belong to the old epoch
        undelivered_.fetch_sub(state.ownAcked.size());
        state.ownAcked.clear();
    }
    gaps_.fetch_add(1);
    if (gap.newEpoch) log::warn("redis: topic '{}' starts a new epoch: Redis lost its messages", topic);
    else log::warn("redis: topic '{}': messages {}-{} are no longer in the history; subscribers are told", topic, gap.from, gap.to);
    for (auto& c : topics_.subscribersOf(topic)) c->topicGap(topic, gap);
}

}  // namespace wharf::detail
