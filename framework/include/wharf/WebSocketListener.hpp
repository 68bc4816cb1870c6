#pragma once
// The per-connection listener interfaces (Jetty's WebSocketListener and friends).

#include <wharf/CloseStatus.hpp>
#include <wharf/Error.hpp>
#include <wharf/Session.hpp>

#include <cstddef>
#include <span>
#include <string_view>

namespace wharf {

/// One object per connection, created by the mapping's creator. The contract:
/// - Callbacks of one connection never run concurrently and arrive in order:
///   onConnect first, then messages, then onError (only if something failed), then
///   exactly one onClose. No callback follows onClose.
/// - onClose reports the status of the close handshake, 1001 after an idle timeout or
///   server stop, or 1006 when the peer vanished without a close frame.
/// - Payload views are valid only during the call; copy what you keep.
/// - A callback that throws is logged and reported to onError, and the connection is
///   closed with 1011; the server keeps serving.
/// - The connection owns the listener until onClose has returned.
/// Every method has an empty default body: override what you need.
class WebSocketListener {
public:
    virtual ~WebSocketListener() = default;
    virtual void onConnect(Session session) { (void)session; }
    /// A complete, UTF-8-valid text message.
    virtual void onText(std::string_view message) { (void)message; }
    virtual void onBinary(std::span<const std::byte> message) { (void)message; }
    virtual void onClose(CloseStatus status, std::string_view reason) { (void)status; (void)reason; }
    virtual void onError(const Error& error) { (void)error; }
    /// The send queue has emptied (everything was written to the socket) after
    /// backpressure: a send refused with SendQueueFull, a write that had to wait for the
    /// peer to read, or reading suspended while sends were queued. Resume producing here.
    virtual void onDrain() {}
    /// Messages of `topic`, which this session subscribes to, were lost before they reached
    /// this node (Redis broker only: beyond its history window, or Redis lost its data).
    /// The messages after the gap follow as usual; nothing is skipped without this call.
    virtual void onTopicGap(std::string_view topic, const TopicGap& gap) { (void)topic; (void)gap; }
    /// The session's subscription to `topic` is in place (Redis broker only; each
    /// Session::subscribe gets one call): `position` is the last of the topic's messages
    /// before the first one this session receives, and every message after it follows in
    /// order, except what onTopicGap reports, what this session published itself through
    /// Session::publish, and what SlowSubscriberPolicy::Drop skipped. Runs before any of
    /// those messages is queued, so what this call sends reaches the client before them.
    virtual void onSubscribed(std::string_view topic, const TopicPosition& position)
    {
        (void)topic;
        (void)position;
    }
};

/// Also implement this to receive messages fragment by fragment instead of whole
/// (Jetty's WebSocketPartialListener): onText/onBinary are then not called. Text
/// fragments always end on a code-point boundary (a split code point moves to the next one).
class WebSocketPartialListener {
public:
    virtual ~WebSocketPartialListener() = default;
    virtual void onTextFragment(std::string_view fragment, bool last) = 0;
    virtual void onBinaryFragment(std::span<const std::byte> fragment, bool last) = 0;
};

/// Also implement this to see pings and pongs (Jetty's WebSocketPingPongListener).
/// Pings are answered with a pong automatically either way.
class WebSocketPingPongListener {
public:
    virtual ~WebSocketPingPongListener() = default;
    virtual void onPing(std::span<const std::byte> payload) = 0;
    virtual void onPong(std::span<const std::byte> payload) = 0;
};

/// A listener that keeps its Session (Jetty's WebSocketAdapter). Call
/// WebSocketAdapter::onConnect/onClose from overrides.
class WebSocketAdapter : public WebSocketListener {
public:
    void onConnect(Session session) override { session_ = std::move(session); }
    void onClose(CloseStatus, std::string_view) override { closed_ = true; }
    const Session& getSession() const noexcept { return session_; }
    bool isConnected() const noexcept { return !closed_ && session_.isOpen(); }

private:
    Session session_;
    bool closed_ = false;
};

}  // namespace wharf
