#pragma once
// One WebSocket connection over a stream: drives the sans-I/O protocol core
// (MessageAssembler for what arrives, CloseState for the closing handshake, FrameWriter and
// Deflater for what leaves) for either role, and adds what needs I/O and threads: the send
// queue and write batching, flow control, timers, memory budgets and listener dispatch.
// The stream itself (plain or TLS) is a subclass: see "Stream contract" below.

#include "detail/Deflate.hpp"
#include "detail/Frame.hpp"
#include "detail/SmallMutex.hpp"
#include "protocol/CloseState.hpp"
#include "protocol/FrameWriter.hpp"
#include "protocol/MessageAssembler.hpp"
#include "websocket/SessionHost.hpp"
#include "websocket/UpgradeAction.hpp"

#include <wharf/Session.hpp>
#include <wharf/Upgrade.hpp>
#include <wharf/WebSocketListener.hpp>
#include <wharf/WebSocketServletFactory.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace wharf::detail {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
struct Topic;
struct OffsetMessage;
class WsConnection;

/// The connections of one strand that have something to flush: one hand-off to the strand
/// flushes them all, in the order they asked. A broadcast or publish to N sessions costs one
/// post per strand that has subscribers, not one per subscriber, and the sends of a loop
/// turn are coalesced into one write per connection.
class FlushGroup {
public:
    explicit FlushGroup(Strand strand) : strand_(std::move(strand)) {}
    const Strand& strand() const noexcept { return strand_; }
    /// Flushes `c` on the strand soon; `c` is not in the group already (its flushPosted_).
    void add(std::shared_ptr<WsConnection> c);

private:
    class Ticket;
    void run();
    void dropPending();

    Strand strand_;
    SmallMutex mutex_;
    bool posted_ = false;  // a run() is on its way
    std::vector<std::shared_ptr<WsConnection>> pending_;  // guarded by mutex_
    std::vector<std::shared_ptr<WsConnection>> running_;  // run() only (swapped, keeps capacity)
};

class WsConnection : public Closable, public std::enable_shared_from_this<WsConnection> {
public:
    /// Takes what it needs from `action` (the listener, request, policy, deflate) and keeps
    /// no UpgradeAction: an idle connection holds as little as it can.
    WsConnection(Strand strand, std::shared_ptr<SessionHost> host, UpgradeAction& action,
                 Role role = Role::Server);
    ~WsConnection() override;

    /// Runs on the strand once the 101 is written; `early` holds bytes read past the handshake.
    void start(std::string_view early);

    // Session API: any thread.
    SendResult sendData(Opcode opcode, std::string_view payload, SendCallback& done);
    SendResult sendPrepared(const std::shared_ptr<const PreparedFrame>& frame, SendCallback& done);
    SendResult sendControl(Opcode opcode, std::string_view payload, SendCallback& done);
    void close(CloseStatus status, std::string_view reason, CloseMode mode);
    void disconnect();
    void suspend();
    void resume();
    bool isOpen() const noexcept { return open_.load(std::memory_order_acquire); }
    std::size_t bufferedAmount() const noexcept { return buffered_.load(std::memory_order_relaxed); }
    void setIdleTimeout(std::chrono::milliseconds timeout);
    void setPingInterval(std::chrono::milliseconds interval);
    const std::shared_ptr<const UpgradeRequest>& request() const noexcept { return request_; }
    const WebSocketPolicy& policy() const noexcept { return *policy_; }
    std::uint64_t id() const noexcept { return id_; }

    // Topics (Session API, any thread); see websocket/Topics.hpp.
    /// `since`: a subscribe from that position (Session::subscribe with one).
    bool subscribe(std::string_view topic, const TopicPosition* since = nullptr);
    bool unsubscribe(std::string_view topic);
    bool isSubscribed(std::string_view topic);
    std::vector<std::string> topics();
    /// To every subscriber of `topic` but this session; returns how many it was queued for.
    std::size_t publish(std::string_view topic, const Message& message, PublishHandler done = {});
    /// Tells the listener (onTopicGap) on the strand.
    void topicGap(std::string topic, const TopicGap& gap);
    /// The broker placed this subscriber of `topic` (TopicBroker::place): on the strand, the
    /// listener hears of `gap` (if any) and onSubscribed(position), then `history` and what
    /// was held meanwhile are queued (TopicRegistry::release). Any thread.
    void placed(std::string topic, std::uint64_t ticket, TopicPosition position, std::optional<TopicGap> gap,
                std::vector<OffsetMessage> history);
    /// A publish to this subscriber, with its topic's lock held: queued like a send (in
    /// call order with the others), without a callback. Errc{} when queued; SendQueueFull
    /// leaves the slow-subscriber policy to the caller.
    Errc deliver(const std::shared_ptr<const PreparedFrame>& frame);
    /// Heap bytes this connection holds for sending (queue and buffer capacity); tests.
    std::size_t sendCapacity();

    /// Over a server-wide memory budget (SessionHost::sendBudget / receiveBudget): closes
    /// the sessions holding the most until the total is under the limit. Any thread; runs
    /// one pass at a time per budget.
    static void enforceBudget(const std::shared_ptr<SessionHost>& host, bool send);

    // Closable (server stop).
    void gracefulClose() override;
    void forceClose() override;
    bool isWebSocket() const noexcept override { return true; }

protected:
    // --- Stream contract ---------------------------------------------------------------
    // A subclass moves bytes; everything here runs on the strand.
    // - doRead(): call onBytes with what arrives, until onBytes returns false. It is called
    //   again to go on after a pause (resume): it then reads what is there now, since a
    //   readiness edge may have passed while reading was paused.
    // - doTryWrite(): write what the transport takes now, never wait; doWrite(): write all,
    //   waiting for the transport, then call onWriteDone once.
    // - doCloseSocket(): close (after our close frame, the way RFC 6455 7.1.1 wants for the
    //   role); idempotent. May set a stream deadline (setStreamDeadline) to linger.
    // - onReadError() on EOF or an error.

    /// Arrange for onBytes/onReadError to be called when data arrives.
    virtual void doRead() = 0;
    /// Write all buffers; call onWriteDone when done. `buffers` stays valid (and the
    /// stream may consume it in place) until then.
    virtual void doWrite(std::vector<boost::asio::const_buffer>& buffers) = 0;
    /// Writes what the transport takes right now, without blocking or waiting; returns the
    /// bytes written. 0 (the default: TLS) means "nothing now": doWrite then sends it all.
    /// Errors also return 0 and are left for doWrite to report.
    virtual std::size_t doTryWrite(std::span<const boost::asio::const_buffer> buffers)
    {
        (void)buffers;
        return 0;
    }
    /// True when every write completes through doWrite (TLS): the connection then keeps its
    /// write batch between writes instead of allocating one each time.
    virtual bool writesAsynchronously() const noexcept { return false; }
    /// Close the transport (TLS: after close_notify); must be idempotent.
    virtual void doCloseSocket() = 0;

    /// Handles received bytes (mutable: unmasked in place). Returns true to keep reading.
    bool onBytes(char* data, std::size_t size);
    void onReadError(const boost::system::error_code& ec);
    void onWriteDone(const boost::system::error_code& ec);
    /// The peer's close frame has arrived (it sends nothing after it).
    bool peerSentClose() const noexcept { return close_.closeReceived(); }

    /// After teardown the stream may set a deadline of its own (a lingering close):
    /// onStreamDeadline() runs on the strand when it passes. No timer per connection:
    /// the server's DeadlineWheel holds every connection's deadline.
    void setStreamDeadline(std::chrono::steady_clock::duration after);
    void clearStreamDeadline();
    virtual void onStreamDeadline() {}

    SessionHost& host() const noexcept { return *server_; }
    /// The strand's FlushGroup (none: each flush is posted on its own). Before start().
    void setFlushGroup(FlushGroup* group) noexcept { flushGroup_ = group; }

    Strand strand_;
    bool readStopped_ = false;  // strand: no reads wanted (closing, or suspended)

private:
    friend class FlushGroup;

    // Receiving (strand).
    /// Runs the assembler over [p, end) and delivers its events, until it needs more input
    /// or reading stops (suspended, closing).
    void receive(char*& p, char* end);
    void deliver(MessageAssembler::Event event);
    /// Keeps [p, end) for later (suspended while a read still held frames).
    void hold(const char* p, const char* end);
    /// Delivers what was held, after resume(); false when reading stopped again.
    bool releaseHeld();
    void answerPing(std::string_view payload);

    // Closing (strand): everything goes through the CloseState.
    void apply(CloseState::Actions actions);
    /// The peer broke the protocol, a listener threw, a budget or timeout ran out: report
    /// the error and close with the failure's code, not waiting for the peer's answer.
    void fail(const ProtocolFailure& failure);
    /// Everything ended: tell the listener, release resources.
    void teardown();
    /// Stops taking new sends (a close frame is on its way or the connection is gone).
    void closeToSends();

    // Sending.
    Errc admit(std::size_t bytes);
    void queued(std::unique_lock<SmallMutex>& lock);
    SendResult refuse(Errc why, SendCallback& done);
    void queueCloseFrame();
    void flush();
    /// After a batch is written (or failed): callbacks, close progress. False once torn down.
    bool completeWrite(const boost::system::error_code& ec);
    /// sendData of a large payload on the strand with nothing in flight: written straight
    /// from the caller's buffer, only what the socket does not take is copied.
    void writeDirect(Opcode opcode, std::string_view payload);
    /// Queues a shared frame (outMutex_ held, admitted): referenced, or copied when small;
    /// compressed once per parameter class where permessage-deflate applies.
    void queueShared(const std::shared_ptr<const PreparedFrame>& frame);
    /// Leaves every topic once sends are closed (a close begun, the connection ended) and on
    /// destruction; idempotent. Takes the topic locks: never with outMutex_ held.
    void leaveTopics();
    /// Leaves one topic; the subscription list's lock held.
    void leave(const std::shared_ptr<Topic>& topic);
    /// Appends a whole uncompressed frame to outBuf_ and counts it as queued; outMutex_ held.
    void queueFrame(Opcode opcode, std::string_view payload);
    /// Appends a data frame for `payload` to outBuf_ (compressed when negotiated and above
    /// the threshold); outMutex_ held. Returns the bytes added.
    std::size_t appendData(Opcode opcode, std::string_view payload);

    // Memory accounting against the session's queue and the server's budgets.
    /// Adds `delta` bytes to what this session has queued (buffered_) and to the server's
    /// send budget; asks for enforcement when that goes over its limit.
    void accountQueued(std::ptrdiff_t delta) noexcept;
    /// The server's receive budget holds the assembler's message buffer while a message is
    /// in progress, nothing otherwise.
    void accountReceived() noexcept;
    /// Picked by enforceBudget (strand): sheds what this session holds and closes it.
    void shedForBudget(bool send);
    /// Empties the send queue (not a batch being written) and closes it to new sends;
    /// returns the callbacks of the discarded sends. Takes outMutex_.
    std::vector<SendCallback> discardQueue();
    /// Calls each callback with `result`; a callback that throws (anything) is logged, and
    /// the others still run: user code never unwinds through the I/O thread.
    void completeSends(std::vector<SendCallback>& callbacks, std::error_code result);

    // Timers.
    void armTimer();
    void onTimer();
    static void fireDeadline(void* connection);
    /// Queues a keep-alive ping (outside the send queue's limit, like a pong).
    void sendKeepAlivePing();

    // Listener calls; every one goes through here.
    template <class F>
    void callListener(F&& f);
    void reportError(std::error_code code, std::string message);

    std::shared_ptr<SessionHost> server_;
    std::shared_ptr<const UpgradeRequest> request_;  // Session::upgradeRequest(); remoteAddress()
    std::shared_ptr<const WebSocketPolicy> policy_;
    std::unique_ptr<const DeflateParams> deflate_;  // permessage-deflate was negotiated
    std::shared_ptr<WebSocketListener> listener_;
    WebSocketPartialListener* partial_ = nullptr;
    WebSocketPingPongListener* pingPong_ = nullptr;
    std::uint64_t id_;
    std::chrono::steady_clock::time_point lastActivity_;  // what the idle timeout counts
    std::chrono::steady_clock::time_point lastReceived_;  // any bytes from the peer
    std::chrono::milliseconds idleTimeout_;
    std::chrono::milliseconds pingInterval_;
    /// Our keep-alive ping awaits an answer since then (max: none does).
    std::chrono::steady_clock::time_point pingSent_ = std::chrono::steady_clock::time_point::max();
    std::chrono::steady_clock::time_point closeDeadline_{};  // close timeout, or the stream's after teardown
    std::chrono::steady_clock::time_point messageStarted_{};  // first read of the message in progress
    DeadlineWheel::Node deadline_;  // on the server's wheel from start() to destruction

    std::atomic<bool> open_{true};
    std::atomic<bool> shedding_{false};  // chosen by enforceBudget; not counted again
    std::atomic<bool> suspended_{false};  // Session::suspend(); onBytes holds what it gets
    std::atomic<std::size_t> buffered_{0};
    std::atomic<std::size_t> receiveHeld_{0};  // this session's share of the receive budget

    // Protocol state (strand).
    FrameWriter writer_;
    MessageAssembler in_;
    CloseState close_;
    bool finished_ = false;    // onClose delivered
    bool connected_ = false;   // onConnect delivered
    bool timingMessage_ = false;  // messageStarted_ is set
    bool discarding_ = false;  // client, close handshake over: reads only for the server's TCP close
    /// While reading is suspended: the input not yet delivered, and the connection itself,
    /// since a stream that does not read may hold no pending operation that keeps it.
    struct Held {
        std::string bytes;
        std::shared_ptr<WsConnection> self;
    };
    std::unique_ptr<Held> held_;
    std::unique_ptr<Deflater> deflater_;  // guarded by outMutex_
    FlushGroup* flushGroup_ = nullptr;
    /// The topics this session subscribes to; made on the first subscribe (any thread).
    struct Subscriptions {
        SmallMutex mutex;
        bool closed = false;  // the session ended: no more subscribes
        std::vector<std::shared_ptr<Topic>> topics;
    };
    std::atomic<Subscriptions*> subscriptions_{nullptr};
    std::atomic<std::uint64_t> nextTicket_{0};  // TopicRegistry::join's tickets
    Subscriptions* subscriptions();

    // Send queue: guarded by outMutex_ (sends come from any thread).
    struct Segment {
        std::size_t inlineEnd;  // outBuf_ bytes that precede the frame
        std::shared_ptr<const PreparedFrame> frame;
    };
    SmallMutex outMutex_;
    std::string outBuf_;
    std::vector<Segment> outSegments_;
    std::vector<SendCallback> outCallbacks_;
    bool outClosed_ = false;      // no more sends accepted
    bool outCloseQueued_ = false; // the close frame is in outBuf_
    bool drainWanted_ = false;    // backpressure happened: onDrain once the queue is empty
    /// A shared compressed frame (made without context) was queued: the peer's inflater
    /// window holds data our deflater never saw, so our next message starts a new context.
    bool deflaterStale_ = false;
    /// The answer to the most recent ping, not yet in outBuf_: flush() appends it. One at
    /// most (RFC 6455 5.5.3), so a peer that pings and never reads costs nothing more.
    std::unique_ptr<std::string> pendingPong_;
    bool flushPosted_ = false;
    std::size_t keepAliveQueued_ = 0;  // bytes of keep-alive pings in outBuf_ (not traffic for the idle timeout)
    bool writing_ = false;  // strand: a batch is being written
    std::size_t outBytes_ = 0;

    // The batch being written (strand). A write the socket takes at once (the usual case)
    // is made in the thread's batch; only one that must wait keeps a batch of its own, so
    // an idle connection holds none.
    struct WriteBatch {
        std::string buf;
        std::vector<Segment> segments;
        std::vector<SendCallback> callbacks;
        std::vector<boost::asio::const_buffer> rest;  // what doWrite still has to write
        std::size_t bytes = 0;
        bool close = false;
        bool traffic = false;  // more than keep-alive pings: counts for the idle timeout
    };
    static WriteBatch& threadBatch();
    /// The batch's buffers in order; returns their total size.
    static std::size_t gather(const WriteBatch& b, std::vector<boost::asio::const_buffer>& iov);
    WriteBatch& batch() { return inflight_ ? *inflight_ : threadBatch(); }
    std::unique_ptr<WriteBatch> inflight_;
};

/// The one way into a Message's prepared frame (the public header does not show it).
struct MessageAccess {
    static const std::shared_ptr<const PreparedFrame>& frame(const Message& m) noexcept { return m.frame_; }
};

/// The connection behind a Session (null once it is gone): for tests of internals.
struct SessionAccess {
    static std::shared_ptr<WsConnection> connection(const Session& s) { return s.connection_.lock(); }
};

}  // namespace wharf::detail
