#pragma once
// The handle a listener (or anyone) uses to talk to one WebSocket connection.

#include <wharf/CloseStatus.hpp>
#include <wharf/Error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace wharf {

namespace detail { class WsConnection; struct PreparedFrame; struct MessageAccess; struct SessionAccess; }
class UpgradeRequest;

/// Called once a send is written to the socket (empty error) or has failed
/// (Errc::SessionClosed, Errc::SendQueueFull, Errc::ServerStopping, or the network error).
using SendCallback = std::function<void(std::error_code)>;

/// What a send did at the call: queued, or refused and why. A refused send's callback has
/// already run with the same error when the call returns.
///
///     if (auto r = session.sendText(update); r.error() == wharf::Errc::SendQueueFull) ...
///     if (!session.sendText(update)) ...   // refused, for any reason
class SendResult {
public:
    /// Queued.
    constexpr SendResult() noexcept = default;
    /// Refused with `why` (SessionClosed, SendQueueFull, ServerStopping, InvalidArgument).
    constexpr explicit SendResult(Errc why) noexcept : refused_(why) {}

    constexpr bool queued() const noexcept { return refused_ == Errc{}; }
    constexpr explicit operator bool() const noexcept { return queued(); }
    /// Why it was refused; empty when queued.
    std::error_code error() const noexcept { return queued() ? std::error_code() : make_error_code(refused_); }

private:
    Errc refused_{};
};

/// How Session::close treats what is still queued.
enum class CloseMode : std::uint8_t {
    /// Queued messages go out first, then the close frame (a graceful close).
    AfterQueued,
    /// Queued messages that are not yet being written are dropped (their callbacks get
    /// Errc::SessionClosed) and the close frame goes out at once: for getting rid of a
    /// consumer that does not keep up, whose queue is the problem.
    DiscardQueued,
};

/// A message framed once and sendable to any number of sessions: a broadcast builds
/// one Message and every session sends the same bytes (no per-recipient framing or copy).
/// A session with permessage-deflate compresses it for itself when it is above the
/// threshold (compressed bytes depend on each session's compression context).
/// Thread-safety: immutable; share freely.
class Message {
public:
    static Message text(std::string_view payload);
    static Message binary(std::span<const std::byte> payload);
    static Message binary(std::string_view payload);
    std::size_t size() const noexcept;  ///< payload bytes
    bool isText() const noexcept;
    std::string_view payload() const noexcept;

private:
    friend struct detail::MessageAccess;
    std::shared_ptr<const detail::PreparedFrame> frame_;
};

/// What a publish does for a subscriber whose send queue is full (it does not keep up).
/// Set per mapping (WebSocketServletFactory::setSlowSubscriberPolicy) and per topic
/// (Server::setTopicPolicy, which wins). Nothing is ever skipped silently.
enum class SlowSubscriberPolicy : std::uint8_t {
    /// The subscriber is closed with 1008 "slow subscriber", after what it had queued
    /// (the messages it already accepted still arrive). The default.
    Close,
    /// The message is skipped for this subscriber only; it is counted and the mapping's
    /// PublishDropListener is told. The subscriber stays connected.
    Drop,
};

/// Told when a topic gains its first subscriber (`active` true) or loses its last (false),
/// in that order for each topic. Runs on the thread that subscribed or unsubscribed, under
/// the registry's lock for that topic: record or queue the change, and do not call
/// subscribe, unsubscribe or publish from it.
using TopicActivityListener = std::function<void(std::string_view topic, bool active)>;

/// Told whether a publish reached its topic: empty when it was queued for the subscribers
/// (in-process), or accepted by Redis (with the Redis broker: it then reaches every
/// subscriber on every node); Errc::BrokerUnavailable when Redis did not accept it within
/// RedisBrokerConfig::publishTimeout, and then it reached nobody (docs/scaling.md has the
/// one exception: a connection lost after the command was sent). Runs on a server thread,
/// or before the call returns when the server is not running (Errc::ServerStopping).
using PublishHandler = std::function<void(std::error_code)>;

/// Messages of a topic that a subscriber will not get (WebSocketListener::onTopicGap): the
/// Redis broker lost them beyond its history window, or Redis itself lost its data. Offsets
/// count a topic's messages from 1 within an epoch; a new epoch starts when Redis lost them.
struct TopicGap {
    std::uint64_t from = 0;  ///< first offset missed (0: unknown, with newEpoch)
    std::uint64_t to = 0;    ///< last offset missed (0: unknown, with newEpoch)
    bool newEpoch = false;   ///< Redis lost the topic's data: offsets restart in a new epoch
};

/// Where a subscriber stands in a topic (Redis broker only): the offset of the last
/// message it has, within the topic's epoch. A client that counts the topic's messages
/// from the position WebSocketListener::onSubscribed gave it knows its position, and after
/// a reconnect Session::subscribe(topic, since) gets it what it missed. As text
/// (toString/parse): "epoch:offset".
struct TopicPosition {
    std::string epoch;
    std::uint64_t offset = 0;

    std::string toString() const;
    /// "epoch:offset" with an epoch of letters and digits; nullopt otherwise.
    static std::optional<TopicPosition> parse(std::string_view text);
    friend bool operator==(const TopicPosition&, const TopicPosition&) = default;
};

class Session;
/// Told that `message`, published on `topic`, was skipped for `subscriber` under
/// SlowSubscriberPolicy::Drop. Runs on the publisher's thread after the publish.
using PublishDropListener =
    std::function<void(const Session& subscriber, std::string_view topic, const Message& message)>;

/// A cheap, copyable handle to one WebSocket connection (Jetty's Session).
///
/// The contract:
/// - Valid from onConnect until forever: once the connection is gone the handle stays
///   safe to use; sends then fail with Errc::SessionClosed and isOpen() is false.
/// - Thread-safety: every member may be called from any thread at any time.
/// - Sends never block. They are queued in call order and written in that order,
///   coalesced into as few socket writes as possible. A send returns a SendResult: queued,
///   or refused (and the callback got the error) because the session is closed
///   (SessionClosed), the server is stopping (ServerStopping) or the queue would exceed the
///   factory's max send queue size (SendQueueFull). Nothing is dropped silently.
/// - Flow control: suspend() stops delivering the peer's messages (and reading them) until
///   resume(); WebSocketListener::onDrain says when the send queue has emptied after
///   backpressure. A producer pauses on SendQueueFull or a large bufferedAmount() and goes
///   on in onDrain; an echo or relay suspends its reading instead of dropping.
/// - Callbacks of sends run on the connection's thread, except for a send refused at
///   the call, whose callback runs before the call returns.
/// - A default-constructed Session refers to no connection (isOpen() == false).
class Session {
public:
    Session() = default;

    SendResult sendText(std::string_view text, SendCallback done = {}) const;
    SendResult sendBinary(std::span<const std::byte> data, SendCallback done = {}) const;
    SendResult sendBinary(std::string_view data, SendCallback done = {}) const;
    /// Sends a prepared Message (the broadcast path).
    SendResult send(const Message& message, SendCallback done = {}) const;
    /// Control frames: payload at most 125 bytes (else Errc::InvalidArgument).
    SendResult sendPing(std::string_view payload = {}, SendCallback done = {}) const;
    SendResult sendPong(std::string_view payload = {}, SendCallback done = {}) const;

    /// Starts the close handshake: the close frame follows what is queued (or, with
    /// CloseMode::DiscardQueued, replaces it); onClose runs when the peer answers, or after
    /// the close timeout (onError then gets Errc::CloseTimeout). `status` must be a valid
    /// wire code and `reason` at most 123 bytes of UTF-8, else 1011 / "" is sent.
    void close(CloseStatus status = CloseStatus::Normal, std::string_view reason = {},
               CloseMode mode = CloseMode::AfterQueued) const;
    /// Drops the connection now without a close handshake; onClose gets 1006.
    void disconnect() const;

    /// True until a close frame was sent or received or the connection dropped.
    bool isOpen() const noexcept;
    /// The peer's address ("127.0.0.1:53214"); kept after the connection is gone.
    std::string remoteAddress() const;
    /// The upgrade request; null for a default-constructed Session.
    std::shared_ptr<const UpgradeRequest> upgradeRequest() const;
    /// Replaces this session's idle timeout (zero disables it).
    void setIdleTimeout(std::chrono::milliseconds timeout) const;
    /// Replaces this session's keep-alive ping interval (zero: no pings); the pong timeout
    /// stays the factory's (WebSocketServletFactory::setPingInterval).
    void setPingInterval(std::chrono::milliseconds interval) const;
    /// Bytes queued but not yet written to the socket.
    std::size_t bufferedAmount() const noexcept;
    /// Stops reading the peer's messages: once suspend() returns on the session's own
    /// thread (from a callback), no onText/onBinary/onPing/onPong follows until resume();
    /// from another thread, at most the messages of the read in progress still arrive.
    /// The peer's data waits in its socket (TCP flow control reaches the peer); the idle
    /// timeout still runs, keep-alive pings pause (their answer would not be read).
    /// Timers, sends and onClose go on as usual.
    void suspend() const;
    /// Reading goes on, starting with whatever arrived meanwhile. Any thread.
    void resume() const;
    // --- Topics (pub/sub; see docs/pubsub.md) ---------------------------------------
    // A server session may subscribe to any number of topics (any non-empty string); a
    // message published on a topic is queued for each subscriber like a send of its own:
    // in call order with the session's other sends, and under its send-queue limit (when
    // full, the SlowSubscriberPolicy decides). Every subscriber of a topic receives its
    // messages in one and the same order. A session leaves its topics when it closes.
    // Client sessions have no topics (subscribe returns false).

    /// Subscribes; false when already subscribed, closed, `topic` is empty, or a client session.
    /// With the Redis broker the listener's onSubscribed then tells where the session
    /// starts in the topic (before any of the topic's messages reach it).
    bool subscribe(std::string_view topic) const;
    /// Subscribes from a position the session's client had (it counted from an earlier
    /// onSubscribed): the messages after `since` that are still in the topic's history are
    /// queued first, in order, then the live ones, with nothing twice and nothing between
    /// skipped. onSubscribed comes first and gives the position they follow: `since`, or
    /// later when part of what was missed is gone, which onTopicGap reports (before
    /// onSubscribed; newEpoch when `since` names an epoch Redis no longer has). Without a
    /// broker topics keep no history: this subscribes and reports onTopicGap{0, 0, true}.
    bool subscribe(std::string_view topic, const TopicPosition& since) const;
    /// Unsubscribes; false when it was not subscribed. Messages published before the call
    /// and already queued still arrive; later ones do not.
    bool unsubscribe(std::string_view topic) const;
    bool isSubscribed(std::string_view topic) const;
    /// The topics this session is subscribed to, in subscription order.
    std::vector<std::string> topics() const;
    /// Publishes to every subscriber of `topic` except this session (Server::publish
    /// reaches all); returns how many subscribers it was queued for.
    std::size_t publish(std::string_view topic, const Message& message) const;
    /// The same, telling `done` whether it reached the topic (see PublishHandler): with the
    /// Redis broker, whether Redis accepted it. `done` may run before this returns.
    void publish(std::string_view topic, const Message& message, PublishHandler done) const;

    /// A process-unique id (0 for a default-constructed Session).
    std::uint64_t id() const noexcept { return id_; }

    friend bool operator==(const Session& a, const Session& b) noexcept { return a.id_ == b.id_; }

    explicit Session(std::shared_ptr<detail::WsConnection> connection);

private:
    friend struct detail::SessionAccess;
    std::weak_ptr<detail::WsConnection> connection_;
    std::shared_ptr<const UpgradeRequest> request_;
    std::uint64_t id_ = 0;
};

}  // namespace wharf

template <>
struct std::hash<wharf::Session> {
    std::size_t operator()(const wharf::Session& s) const noexcept { return std::hash<std::uint64_t>{}(s.id()); }
};
