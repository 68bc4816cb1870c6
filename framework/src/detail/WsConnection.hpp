#pragma once
// The WebSocket protocol engine of one connection: frame parsing, UTF-8, deflate,
// close handshake, idle timer, send queue. Stream I/O is left to WsStream<Stream>.

#include "detail/Deflate.hpp"
#include "detail/Frame.hpp"
#include "detail/ServerState.hpp"
#include "detail/SmallMutex.hpp"
#include "detail/Utf8.hpp"
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

class WsConnection : public Closable, public std::enable_shared_from_this<WsConnection> {
public:
    /// Takes what it needs from `action` (the listener, request, policy, deflate) and keeps
    /// no UpgradeAction: an idle connection holds as little as it can.
    WsConnection(Strand strand, std::shared_ptr<ServerState> server, UpgradeAction& action);
    ~WsConnection() override;

    /// Runs on the strand once the 101 is written; `early` holds bytes read past the handshake.
    void start(std::string_view early);

    // Session API: any thread.
    bool sendData(Opcode opcode, std::string_view payload, SendCallback& done);
    bool sendPrepared(const std::shared_ptr<const PreparedFrame>& frame, SendCallback& done);
    bool sendControl(Opcode opcode, std::string_view payload, SendCallback& done);
    void close(CloseStatus status, std::string_view reason);
    void disconnect();
    bool isOpen() const noexcept { return open_.load(std::memory_order_acquire); }
    std::size_t bufferedAmount() const noexcept { return buffered_.load(std::memory_order_relaxed); }
    void setIdleTimeout(std::chrono::milliseconds timeout);
    const std::shared_ptr<const UpgradeRequest>& request() const noexcept { return request_; }
    std::uint64_t id() const noexcept { return id_; }

    /// Over a server-wide memory budget (ServerState::sendBudget / receiveBudget): closes
    /// the sessions holding the most until the total is under the limit. Any thread; runs
    /// one pass at a time per budget.
    static void enforceBudget(const std::shared_ptr<ServerState>& server, bool send);

    // Closable (server stop).
    void gracefulClose() override;
    void forceClose() override;
    bool isWebSocket() const noexcept override { return true; }

protected:
    // Implemented per stream type; all run on the strand.
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
    /// Everything ended: tell the listener, release resources.
    void teardown(CloseStatus status, std::string_view reason);
    /// The peer's close frame has arrived (it sends nothing after it).
    bool peerSentClose() const noexcept { return closeReceived_; }

    /// After teardown the stream may set a deadline of its own (a lingering close):
    /// onStreamDeadline() runs on the strand when it passes. No timer per connection:
    /// the server's DeadlineSweeper checks every connection's deadline.
    void setStreamDeadline(std::chrono::steady_clock::duration after);
    void clearStreamDeadline();
    virtual void onStreamDeadline() {}

    ServerState& serverState() const noexcept { return *server_; }

    Strand strand_;
    bool readStopped_ = false;  // strand: no more reads wanted

private:
    enum class Phase : std::uint8_t { Header, Payload };

    // Parsing (strand).
    bool parse(char*& p, char* end);
    bool startFrame(const std::uint8_t* h, std::size_t headerSize, std::uint64_t length);
    bool onPayload(char* data, std::size_t size, bool frameEnd);
    bool onFrameComplete();
    bool deliverMessageChunk(std::string_view data, bool messageEnd);
    bool handleControl(std::string_view payload);
    void fail(CloseStatus status, Errc error, std::string_view why);
    void closeLocal(CloseStatus status, std::string_view reason);

    // Sending.
    enum class Admit { Ok, Closed, Full };
    Admit admit(std::size_t bytes);
    void queued(std::unique_lock<SmallMutex>& lock);
    bool refuse(Admit why, SendCallback& done);
    void queueClose(CloseStatus status, std::string_view reason);
    void flush();
    /// After a batch is written (or failed): callbacks, close progress. False once torn down.
    bool completeWrite(const boost::system::error_code& ec);
    /// sendData of a large payload on the strand with nothing in flight: written straight
    /// from the caller's buffer, only what the socket does not take is copied.
    void writeDirect(Opcode opcode, std::string_view payload);

    // Memory accounting against the session's queue and the server's budgets.
    /// Adds `delta` bytes to what this session has queued (buffered_) and to the server's
    /// send budget; asks for enforcement when that goes over its limit.
    void accountQueued(std::ptrdiff_t delta) noexcept;
    /// The server's receive budget holds message_'s capacity while a message is in
    /// progress, nothing otherwise.
    void accountReceived() noexcept;
    /// Picked by enforceBudget (strand): sheds what this session holds and closes it.
    void shedForBudget(bool send);
    /// Empties the send queue (not a batch being written) and closes it to new sends;
    /// returns the callbacks of the discarded sends. Takes outMutex_.
    std::vector<SendCallback> discardQueue();
    /// Calls each callback with `result`; a callback that throws (anything) is logged, and
    /// the others still run: user code never unwinds through the I/O thread.
    void completeSends(std::vector<SendCallback>& callbacks, std::error_code result);
    /// Frees the message being assembled (and the inflater) before a failure closes the
    /// session: the memory is released now, not after the close handshake.
    void dropMessage();

    // Timers.
    void armTimer();
    void onTimer();
    static void fireDeadline(void* connection);

    // Listener calls; every one goes through here.
    template <class F>
    void callListener(F&& f);
    void reportError(std::error_code code, std::string message);

    std::shared_ptr<ServerState> server_;
    std::shared_ptr<const UpgradeRequest> request_;  // Session::upgradeRequest(); remoteAddress()
    std::shared_ptr<const WebSocketPolicy> policy_;
    std::unique_ptr<const DeflateParams> deflate_;  // permessage-deflate was negotiated
    std::shared_ptr<WebSocketListener> listener_;
    WebSocketPartialListener* partial_ = nullptr;
    WebSocketPingPongListener* pingPong_ = nullptr;
    std::uint64_t id_;
    std::chrono::steady_clock::time_point lastActivity_;
    std::chrono::milliseconds idleTimeout_;
    std::chrono::steady_clock::time_point closeDeadline_{};  // after teardown: the stream's
    DeadlineSweeper::Node deadline_;  // in the server's sweeper from start() to destruction

    std::atomic<bool> open_{true};
    std::atomic<bool> shedding_{false};  // chosen by enforceBudget; not counted again
    std::atomic<std::size_t> buffered_{0};
    std::atomic<std::size_t> receiveHeld_{0};  // this session's share of the receive budget

    // Receive state (strand).
    Phase phase_ = Phase::Header;
    std::uint8_t header_[maxFrameHeader];
    std::uint8_t headerHave_ = 0;
    std::uint8_t frameOpcode_ = 0;
    bool frameDelivered_ = false;  // the payload went to the listener without a copy
    bool discard_ = false;         // data after our close frame is read and dropped
    bool frameFin_ = false;
    std::uint8_t maskOffset_ = 0;
    std::uint8_t messageOpcode_ = 0;  // 0: no data message in progress
    bool messageCompressed_ = false;
    std::uint8_t mask_[4] = {};
    std::uint64_t frameLength_ = 0;
    std::uint64_t frameRemaining_ = 0;
    std::size_t messageReceived_ = 0;  // wire bytes of the current message
    std::chrono::steady_clock::time_point messageStarted_{};  // first frame of the current message
    /// The size limit of the message in progress (text or binary).
    std::size_t messageLimit() const noexcept;
    std::string message_;              // assembled (inflated) message or fragment
    std::string control_;              // control frame payload
    Utf8Validator utf8_;
    std::unique_ptr<Inflater> inflater_;
    std::unique_ptr<Deflater> deflater_;  // guarded by outMutex_

    // Close state (strand).
    bool closeSent_ = false;       // a close frame is queued
    bool closeWritten_ = false;
    bool closeReceived_ = false;
    bool closeAfterWrite_ = false;  // close the socket once the close frame is out
    bool finished_ = false;         // onClose delivered
    bool connected_ = false;        // onConnect delivered
    CloseStatus closeStatus_ = CloseStatus::Abnormal;
    std::string closeReason_;

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
    /// The answer to the most recent ping, not yet in outBuf_: flush() appends it. One at
    /// most (RFC 6455 5.5.3), so a peer that pings and never reads costs nothing more.
    std::unique_ptr<std::string> pendingPong_;
    bool flushPosted_ = false;
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
    };
    static WriteBatch& threadBatch();
    /// The batch's buffers in order; returns their total size.
    static std::size_t gather(const WriteBatch& b, std::vector<boost::asio::const_buffer>& iov);
    WriteBatch& batch() { return inflight_ ? *inflight_ : threadBatch(); }
    std::unique_ptr<WriteBatch> inflight_;
};

}  // namespace wharf::detail
