#include "detail/WsConnection.hpp"

#include "detail/Format.hpp"
#include "websocket/Topics.hpp"

#include <wharf/Log.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>

namespace wharf::detail {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<std::uint64_t> nextConnectionId{0};

// Buffers that grew past this for one large message are released afterwards, so an
// idle connection does not keep the memory of its largest message.
constexpr std::size_t keepCapacity = 64 * 1024;
// The send buffer a connection keeps between writes. Its writes are made from the thread's
// batch, whose buffer it gets back in exchange: a larger one goes, so that capacity built
// up by other connections' bursts does not stay with this one while it idles.
constexpr std::size_t keepSendCapacity = 1024;
// Shared frames up to this size are copied into the write buffer (cheaper than an iovec).
constexpr std::size_t copySharedBelow = 2048;
// ... while the session's queue is shorter than this.
constexpr std::size_t copyWhileQueueBelow = 16 * 1024;
// Payloads from this size sent on the strand with nothing in flight are written from the
// caller's memory (no copy into the send buffer) when the socket takes them at once.
constexpr std::size_t directWriteMin = 8 * 1024;

void releaseIfLarge(std::string& s, std::size_t keep = keepCapacity)
{
    if (s.capacity() > keep) std::string().swap(s);
}

MessageLimits limitsOf(const WebSocketPolicy& policy)
{
    return {policy.maxTextMessageSize, policy.maxBinaryMessageSize, policy.maxFrameSize};
}

/// Deflater for our side of `role`: its window and context takeover are our side's.
std::unique_ptr<Deflater> makeDeflater(const DeflateParams& p, Role role)
{
    return role == Role::Server ? std::make_unique<Deflater>(p.serverMaxWindowBits, p.memLevel, p.serverNoContextTakeover)
                                : std::make_unique<Deflater>(p.clientMaxWindowBits, p.memLevel, p.clientNoContextTakeover);
}

/// `prepared` compressed for the sessions whose compressor has `windowBits` and `memLevel`,
/// made once per frame and class (the frame keeps it), without context so that any session
/// of the class can send it. The prepared frame itself when zlib fails.
std::shared_ptr<const PreparedFrame> compressedFrame(const std::shared_ptr<const PreparedFrame>& prepared,
                                                     int windowBits, int memLevel)
{
    std::lock_guard lock(prepared->compressedMutex);
    for (const auto& c : prepared->compressed)
        if (c.windowBits == windowBits && c.memLevel == memLevel) return c.frame;
    // One compressor per class and thread, reused: zlib's state is ~256 KiB to set up.
    struct Compressor {
        int windowBits, memLevel;
        std::unique_ptr<Deflater> deflater;
    };
    thread_local std::vector<Compressor> compressors;
    auto it = std::find_if(compressors.begin(), compressors.end(),
                           [&](const Compressor& c) { return c.windowBits == windowBits && c.memLevel == memLevel; });
    if (it == compressors.end())
        it = compressors.insert(compressors.end(),
                                Compressor{windowBits, memLevel, std::make_unique<Deflater>(windowBits, memLevel, true)});
    auto frame = std::make_shared<PreparedFrame>();
    std::string body;
    if (it->deflater->compress(prepared->payload(), body)) {
        appendFrame(frame->bytes, prepared->text ? Opcode::Text : Opcode::Binary, body, true, true);
        frame->headerSize = frame->bytes.size() - body.size();
        frame->text = prepared->text;
    } else {
        it->deflater->reset();
        frame.reset();
    }
    std::shared_ptr<const PreparedFrame> result = frame ? std::shared_ptr<const PreparedFrame>(std::move(frame)) : prepared;
    prepared->compressed.push_back({windowBits, memLevel, result});
    return result;
}

// The connection whose handler is running on this thread and will flush before it
// returns (onBytes, start, a flush's own callbacks): its sends need no posted flush.
// Not the strand test: connections share strands (StrandPool), so being on this
// connection's strand does not mean this connection flushes next.
thread_local WsConnection* flushesOnReturn = nullptr;

struct FlushScope {
    explicit FlushScope(WsConnection* c) noexcept : previous(flushesOnReturn) { flushesOnReturn = c; }
    ~FlushScope() { flushesOnReturn = previous; }
    FlushScope(const FlushScope&) = delete;
    FlushScope& operator=(const FlushScope&) = delete;
    WsConnection* previous;
};

}  // namespace

WsConnection::WsConnection(Strand strand, std::shared_ptr<SessionHost> server, UpgradeAction& action, Role role)
    : strand_(std::move(strand)),
      server_(std::move(server)),
      request_(std::move(action.request)),
      policy_(std::move(action.policy)),
      deflate_(action.deflate ? std::make_unique<const DeflateParams>(*action.deflate) : nullptr),
      listener_(std::move(action.listener)),
      partial_(dynamic_cast<WebSocketPartialListener*>(listener_.get())),
      pingPong_(dynamic_cast<WebSocketPingPongListener*>(listener_.get())),
      id_(++nextConnectionId),
      idleTimeout_(policy_->idleTimeout),
      pingInterval_(policy_->pingInterval),
      writer_(role),
      in_(role, limitsOf(*policy_), deflate_.get(), partial_ != nullptr),
      close_(role)
{
    deadline_.fire = &WsConnection::fireDeadline;
    deadline_.owner = this;
}

WsConnection::~WsConnection()
{
    server_->deadlines.unlink(deadline_);
    leaveTopics();  // (a connection that never ended properly)
    delete subscriptions_.load(std::memory_order_acquire);
    server_->connectionEnded(request_ ? std::string_view(request_->remoteAddress()) : std::string_view());
}

// ---------------------------------------------------------------------------------------
// Listener calls

template <class F>
void WsConnection::callListener(F&& f)
{
    if (finished_) return;
    const char* what = nullptr;
    std::string text;
    try {
        f();
        return;
    } catch (const std::exception& e) {
        text = e.what();
    } catch (...) {
        what = "a non-standard exception";
    }
    if (what) text = what;
    log::error("ws {} {}: listener threw: {}", id_, request_->remoteAddress(), text);
    reportError(make_error_code(Errc::ListenerThrew), "listener threw: " + text);
    if (!close_.canSend()) return;
    // The peer learns only that something went wrong, not what.
    closeToSends();
    apply(close_.fail(ProtocolFailure{CloseStatus::InternalError, Errc::ListenerThrew, "internal error"}));
}

void WsConnection::reportError(std::error_code code, std::string message)
{
    if (finished_ || !connected_) return;
    try {
        listener_->onError(Error{code, std::move(message)});
    } catch (const std::exception& e) {
        log::error("ws {}: onError threw: {}", id_, e.what());
    } catch (...) {
        log::error("ws {}: onError threw", id_);
    }
}

// ---------------------------------------------------------------------------------------
// Life cycle

void WsConnection::start(std::string_view early)
{
    FlushScope scope(this);
    server_->webSocketCount.fetch_add(1, std::memory_order_relaxed);
    lastActivity_ = lastReceived_ = Clock::now();
    log::debug("ws {} {}: open {}", id_, request_->remoteAddress(), request_->path());
    server_->deadlines.link(deadline_);
    armTimer();
    connected_ = true;
    callListener([&] { listener_->onConnect(Session(shared_from_this())); });
    if (server_->stopping.load()) apply(close_.close(CloseStatus::GoingAway, "server stopping"));
    if (!early.empty() && !readStopped_) {
        std::string copy(early);
        onBytes(copy.data(), copy.size());  // flushes
    } else {
        flush();
    }
    if (!readStopped_) doRead();
}

void WsConnection::teardown()
{
    if (finished_) return;
    readStopped_ = true;
    open_.store(false, std::memory_order_release);
    DeadlineWheel::clear(deadline_);
    closeDeadline_ = Clock::time_point::max();
    doCloseSocket();
    auto unsent = discardQueue();
    const CloseStatus status = close_.status();
    const std::string& reason = close_.reason();
    log::debug("ws {} {}: closed {} ({}) {}", id_, request_->remoteAddress(), static_cast<int>(status),
               closeStatusName(status), reason);
    if (connected_) {
        try {
            listener_->onClose(status, reason);
        } catch (const std::exception& e) {
            log::error("ws {}: onClose threw: {}", id_, e.what());
        } catch (...) {
            log::error("ws {}: onClose threw", id_);
        }
    }
    finished_ = true;
    leaveTopics();  // (when the end came without a close: a dropped connection)
    server_->metrics.sessionClosed(status);
    // Counted down before anything else user code runs: stop() waits for this count.
    server_->webSocketCount.fetch_sub(1, std::memory_order_relaxed);
    listener_.reset();
    in_.releaseMemory();
    // Released later: the hold may be the last reference to this object, and the caller
    // still uses it.
    if (held_) net::post(strand_, [held = std::move(held_)] {});
    {
        std::lock_guard lock(outMutex_);
        deflater_.reset();
    }
    accountReceived();
    completeSends(unsent, make_error_code(Errc::SessionClosed));
}

void WsConnection::apply(CloseState::Actions actions)
{
    if (actions.sendClose) queueCloseFrame();
    if (actions.armTimer) {
        closeDeadline_ = Clock::now() + policy_->closeTimeout;
        armTimer();
    }
    if (close_.phase() == CloseState::Phase::AwaitingTcpClose && !discarding_) {
        // A client reads on only to see the server's TCP close (RFC 6455 7.1.1), dropping
        // what comes; from outside a read, it looks at the socket now: its FIN may have
        // arrived while reading was stopped, and no readiness edge would announce it again.
        discarding_ = true;
        if (readStopped_) {
            readStopped_ = false;
            net::post(strand_, [self = shared_from_this()] {
                if (!self->finished_) self->doRead();
            });
        }
    } else if (!close_.parsing()) {
        readStopped_ = true;  // nothing after a close frame or a failure is read
    }
    if (!close_.deliversData()) in_.discardData();
    if (actions.finish) teardown();
}

void WsConnection::closeToSends()
{
    {
        std::lock_guard lock(outMutex_);
        outClosed_ = true;
    }
    open_.store(false, std::memory_order_release);
    leaveTopics();
}

void WsConnection::fail(const ProtocolFailure& failure)
{
    if (finished_) return;
    log::debug("ws {} {}: failing with {}: {}", id_, request_->remoteAddress(), static_cast<int>(failure.status),
               failure.reason);
    const bool first = close_.canSend();  // report the first failure only
    closeToSends();
    if (first) reportError(make_error_code(failure.error), failure.reason);
    apply(close_.fail(failure));
}

void WsConnection::gracefulClose() { close(CloseStatus::GoingAway, "server stopping", CloseMode::AfterQueued); }

void WsConnection::forceClose()
{
    net::post(strand_, [self = shared_from_this()] {
        self->reportError(make_error_code(Errc::ServerStopping), "the server stopped before the close handshake completed");
        self->apply(self->close_.abort(CloseStatus::GoingAway, "server stopping"));
    });
}

void WsConnection::disconnect()
{
    net::post(strand_, [self = shared_from_this()] {
        self->apply(self->close_.abort(CloseStatus::Abnormal, "disconnected"));
    });
}

void WsConnection::close(CloseStatus status, std::string_view reason, CloseMode mode)
{
    std::vector<SendCallback> dropped;
    if (mode == CloseMode::DiscardQueued) {
        dropped = discardQueue();  // (also closes the queue to new sends)
    } else {
        std::lock_guard lock(outMutex_);
        if (outClosed_) return;
        outClosed_ = true;  // sends after close() fail; those before it go out first
    }
    open_.store(false, std::memory_order_release);
    leaveTopics();  // a closing session takes no more messages: its topics go on without it
    net::post(strand_, [self = shared_from_this(), status, r = std::string(reason), d = std::move(dropped)]() mutable {
        self->completeSends(d, make_error_code(Errc::SessionClosed));
        if (self->finished_) return;
        if (!isValidWireCloseCode(static_cast<std::uint16_t>(status)))
            log::warn("ws {}: close({}) is not a valid close code; sending 1011", self->id_, static_cast<int>(status));
        self->apply(self->close_.close(status, r));
        self->flush();
    });
}

void WsConnection::setIdleTimeout(std::chrono::milliseconds timeout)
{
    net::post(strand_, [self = shared_from_this(), timeout] {
        if (self->finished_) return;
        self->idleTimeout_ = timeout;
        self->armTimer();
    });
}

void WsConnection::setPingInterval(std::chrono::milliseconds interval)
{
    net::post(strand_, [self = shared_from_this(), interval] {
        if (self->finished_) return;
        self->pingInterval_ = interval;
        self->armTimer();
    });
}

// ---------------------------------------------------------------------------------------
// Flow control

void WsConnection::suspend()
{
    suspended_.store(true, std::memory_order_release);
    std::lock_guard lock(outMutex_);
    if (buffered_.load(std::memory_order_relaxed) > 0) drainWanted_ = true;
}

void WsConnection::resume()
{
    if (!suspended_.exchange(false, std::memory_order_acq_rel)) return;
    net::post(strand_, [self = shared_from_this()] {
        if (self->finished_ || self->suspended_.load(std::memory_order_acquire) || !self->close_.parsing()) return;
        FlushScope scope(self.get());
        self->readStopped_ = false;
        // A ping sent before the suspension gets its full pong timeout from now on.
        if (self->pingSent_ != Clock::time_point::max()) self->pingSent_ = Clock::now();
        self->armTimer();
        const bool more = self->releaseHeld();
        self->flush();
        if (more && !self->readStopped_) self->doRead();
    });
}

void WsConnection::hold(const char* p, const char* end)
{
    if (!held_) held_ = std::make_unique<Held>();
    if (!held_->self) held_->self = shared_from_this();
    held_->bytes.append(p, end);
}

bool WsConnection::releaseHeld()
{
    if (!held_) return !readStopped_;
    // Parsed from a buffer of its own: a suspend while these are delivered holds the rest
    // anew. (The caller holds the connection: dropping the old hold here is safe.)
    const auto input = std::move(held_);
    char* p = input->bytes.data();
    char* const end = p + input->bytes.size();
    receive(p, end);
    if (p != end) hold(p, end);
    return !readStopped_;
}

// ---------------------------------------------------------------------------------------
// Timer: one per connection, serving the idle, message and close timeouts. It is not
// re-armed on every frame: when it fires early (there was activity) it is set again.

void WsConnection::armTimer()
{
    Clock::time_point deadline = Clock::time_point::max();
    if (!close_.canSend()) {
        deadline = closeDeadline_;
    } else {
        if (idleTimeout_.count() > 0) deadline = lastActivity_ + idleTimeout_;
        if (timingMessage_ && policy_->messageTimeout.count() > 0)
            deadline = std::min(deadline, messageStarted_ + policy_->messageTimeout);
        // Keep-alive only while reading: a suspended session would not see the answer.
        if (!suspended_.load(std::memory_order_acquire)) {
            if (pingSent_ != Clock::time_point::max()) deadline = std::min(deadline, pingSent_ + policy_->pongTimeout);
            else if (pingInterval_.count() > 0) deadline = std::min(deadline, lastReceived_ + pingInterval_);
        }
    }
    if (deadline == Clock::time_point::max()) DeadlineWheel::clear(deadline_);
    else DeadlineWheel::set(deadline_, deadline);
}

void WsConnection::setStreamDeadline(Clock::duration after)
{
    server_->deadlines.link(deadline_);  // (linked already unless start() never ran)
    closeDeadline_ = Clock::now() + after;
    DeadlineWheel::set(deadline_, closeDeadline_);
}

void WsConnection::clearStreamDeadline()
{
    closeDeadline_ = Clock::time_point::max();
    DeadlineWheel::clear(deadline_);
}

void WsConnection::fireDeadline(void* connection)
{
    // The wheel's lock is held: a connection being destroyed waits in unlink(), so the
    // object is intact, and lock() fails once its last owner is gone.
    auto& c = *static_cast<WsConnection*>(connection);
    if (auto self = c.weak_from_this().lock()) net::post(c.strand_, [self = std::move(self)] { self->onTimer(); });
}

void WsConnection::onTimer()
{
    // Runs on the strand when a deadline passed; may be stale (state changed since), so
    // everything is decided from the current state.
    if (finished_) {
        if (closeDeadline_ == Clock::time_point::max()) return;
        if (Clock::now() >= closeDeadline_) onStreamDeadline();
        else DeadlineWheel::set(deadline_, closeDeadline_);
        return;
    }
    FlushScope scope(this);
    const auto now = Clock::now();
    const bool reading = !suspended_.load(std::memory_order_acquire);
    if (!close_.canSend()) {
        if (now >= closeDeadline_) {
            const auto actions = close_.timeout();
            if (close_.error() == Errc::CloseTimeout)
                reportError(make_error_code(Errc::CloseTimeout),
                            fmt::format("no close frame from the peer within {} ms", policy_->closeTimeout.count()));
            apply(actions);
            return;
        }
    } else if (reading && pingSent_ != Clock::time_point::max() && now >= pingSent_ + policy_->pongTimeout) {
        // The peer is taken for dead: a close frame would only wait the close timeout for an
        // answer that cannot come, so the TCP connection is dropped, and onClose gets 1006,
        // the code for a connection that ended without a close frame (RFC 6455 7.1.5; never
        // sent on the wire, 7.4.1).
        log::debug("ws {} {}: no answer to a ping within {} ms, dropping", id_, request_->remoteAddress(),
                   policy_->pongTimeout.count());
        reportError(make_error_code(Errc::PongTimeout),
                    fmt::format("no answer to a keep-alive ping within {} ms", policy_->pongTimeout.count()));
        apply(close_.abort(CloseStatus::Abnormal, "pong timeout"));
        return;
    } else if (idleTimeout_.count() > 0 && now >= lastActivity_ + idleTimeout_) {
        log::debug("ws {} {}: idle for {} ms, closing", id_, request_->remoteAddress(), idleTimeout_.count());
        closeToSends();
        apply(close_.close(CloseStatus::GoingAway, "idle timeout"));
        flush();
        return;
    } else if (timingMessage_ && policy_->messageTimeout.count() > 0 && now >= messageStarted_ + policy_->messageTimeout) {
        in_.releaseMemory();
        accountReceived();
        fail(ProtocolFailure{CloseStatus::PolicyViolation, Errc::MessageTimeout,
                             fmt::format("message not complete within {} ms", policy_->messageTimeout.count())});
        flush();
        return;
    } else if (reading && pingSent_ == Clock::time_point::max() && pingInterval_.count() > 0 &&
               now >= lastReceived_ + pingInterval_) {
        sendKeepAlivePing();
    }
    armTimer();
}

void WsConnection::sendKeepAlivePing()
{
    {
        std::lock_guard lock(outMutex_);
        if (outClosed_) return;
        const std::size_t before = outBytes_;
        queueFrame(Opcode::Ping, {});
        keepAliveQueued_ += outBytes_ - before;
    }
    pingSent_ = Clock::now();
    flush();  // (on the strand: onTimer)
}

// ---------------------------------------------------------------------------------------
// Receiving

void WsConnection::onReadError(const boost::system::error_code& ec)
{
    if (finished_) return;
    readStopped_ = true;
    const bool eof = ec == net::error::eof || ec == net::error::connection_reset || ec == net::error::operation_aborted;
    if (!eof && close_.canSend()) {
        // (The conversion keeps the category: a TLS error stays an SSL error, not errno.)
        reportError(static_cast<std::error_code>(ec), ec.message());
        apply(close_.abort(CloseStatus::Abnormal, ec.message()));
        return;
    }
    apply(close_.transportClosed());
}

bool WsConnection::onBytes(char* data, std::size_t size)
{
    FlushScope scope(this);
    // Anything at all answers a keep-alive ping; what counts for the idle timeout is
    // decided per frame (deliver, receive).
    lastReceived_ = Clock::now();
    pingSent_ = Clock::time_point::max();
    if (discarding_) return !readStopped_;
    char* p = data;
    if (held_ && !held_->bytes.empty()) {
        // Suspended before: what came first is delivered first.
        hold(p, data + size);
        p = data + size;
        if (!suspended_.load(std::memory_order_acquire)) releaseHeld();
    } else {
        receive(p, data + size);
    }
    if (p != data + size && held_) hold(p, data + size);  // suspended in the middle
    flush();
    return !readStopped_;
}

void WsConnection::receive(char*& p, char* const end)
{
    while (!readStopped_ && !discarding_) {
        if (suspended_.load(std::memory_order_acquire)) {
            readStopped_ = true;  // until resume(); the rest of this input is held
            hold(p, p);
            break;
        }
        const auto event = in_.next(p, end);
        if (event == MessageAssembler::Event::NeedMore) break;
        deliver(event);
    }
    // The message timeout runs from the read that began a message to its end.
    if (in_.inMessage()) {
        lastActivity_ = lastReceived_;  // a message on its way, in however many reads
        if (!timingMessage_ && policy_->messageTimeout.count() > 0) {
            timingMessage_ = true;
            messageStarted_ = lastReceived_;
            // One deadline per connection: bring it forward if this one is sooner.
            const auto due = messageStarted_ + policy_->messageTimeout;
            if (deadline_.due.load(std::memory_order_relaxed) > due.time_since_epoch().count())
                DeadlineWheel::set(deadline_, due);
        }
    } else {
        timingMessage_ = false;
    }
    accountReceived();
}

void WsConnection::deliver(MessageAssembler::Event event)
{
    using Event = MessageAssembler::Event;
    if (event == Event::Text || event == Event::Binary) server_->metrics.dataReceived(in_.bytes().size(), in_.last());
    if (event != Event::Pong || policy_->resetIdleTimeoutOnPong) lastActivity_ = lastReceived_;
    switch (event) {
    case Event::Text:
        if (partial_) callListener([&] { partial_->onTextFragment(in_.data(), in_.last()); });
        else callListener([&] { listener_->onText(in_.data()); });
        break;
    case Event::Binary:
        if (partial_) callListener([&] { partial_->onBinaryFragment(in_.bytes(), in_.last()); });
        else callListener([&] { listener_->onBinary(in_.bytes()); });
        break;
    case Event::Ping:
        answerPing(in_.data());
        if (pingPong_) callListener([&] { pingPong_->onPing(in_.bytes()); });
        break;
    case Event::Pong:
        if (pingPong_) callListener([&] { pingPong_->onPong(in_.bytes()); });
        break;
    case Event::Close: {
        const bool closing = !close_.canSend();
        const auto actions = close_.receivedClose(in_.data());
        closeToSends();
        // An invalid close frame fails the connection (1002 / 1007).
        if (close_.error() && !closing) reportError(make_error_code(*close_.error()), close_.reason());
        readStopped_ = true;  // nothing after a close frame is processed
        apply(actions);
        break;
    }
    case Event::Failed: fail(in_.failure()); break;
    case Event::NeedMore: break;
    }
}

void WsConnection::answerPing(std::string_view payload)
{
    if (!close_.canSend()) return;  // nothing may follow our close frame
    // Answered even when the send queue is full. While the socket takes what we write,
    // every ping gets its pong in this loop turn; once a write waits for the peer, only the
    // most recent ping is answered (RFC 6455 5.5.3 allows it): its pong replaces the one
    // still pending, so a peer that pings and never reads holds one pong at most.
    std::lock_guard lock(outMutex_);
    if (outClosed_) return;
    if (!writing_) {
        queueFrame(Opcode::Pong, payload);
    } else {
        if (!pendingPong_) pendingPong_ = std::make_unique<std::string>();
        pendingPong_->assign(payload);
    }
}

// ---------------------------------------------------------------------------------------
// Sending

Errc WsConnection::admit(std::size_t bytes)
{
    // outClosed_ (guarded by outMutex_) is set before teardown: no need to read the
    // strand-only finished_ from a foreign thread. A session chosen to be shed for the
    // server's budget takes nothing more while its close is on the way, nor, once the
    // server stops, any session.
    const bool stopping = server_->stopping.load(std::memory_order_relaxed);
    if (outClosed_ || shedding_.load(std::memory_order_relaxed) || stopping)
        return stopping ? Errc::ServerStopping : Errc::SessionClosed;
    const std::size_t queued = buffered_.load(std::memory_order_relaxed);
    // A message larger than the whole limit may still go when nothing is queued.
    if (queued > 0 && queued + bytes > policy_->maxSendQueueSize) {
        drainWanted_ = true;
        return Errc::SendQueueFull;
    }
    // The server's send budget is enforced by closing the largest queues, which takes a
    // moment; meanwhile a fast producer could queue without bound. Twice the budget is a
    // hard stop: sends are refused as if this session's queue were full.
    const auto& budget = server_->sendBudget;
    if (budget.limit <= SIZE_MAX / 2 && budget.used.load(std::memory_order_relaxed) + bytes > 2 * budget.limit) {
        drainWanted_ = true;
        return Errc::SendQueueFull;
    }
    return Errc{};
}

SendResult WsConnection::refuse(Errc why, SendCallback& done)
{
    const auto ec = make_error_code(why);
    server_->metrics.sendRefused(why);
    log::debug("ws {}: send refused: {}", id_, ec.message());
    if (done) done(ec);
    return SendResult(why);
}

void WsConnection::queued(std::unique_lock<SmallMutex>& lock)
{
    if (flushPosted_ || flushesOnReturn == this) return;  // flushed before the handler returns
    flushPosted_ = true;
    lock.unlock();
    auto self = weak_from_this().lock();
    if (!self) return;  // being destroyed (a publish that found it just before it left)
    if (flushGroup_) flushGroup_->add(std::move(self));
    else net::post(strand_, [self = std::move(self)] { self->flush(); });
}

/// The posted run's hold on the group. While a run is on its way the group has pending
/// connections, which keep the server's state (and so the group) alive; a run destroyed
/// without running (the io_context went away with it) releases them, so that they do not
/// keep each other alive through the group.
class FlushGroup::Ticket {
public:
    explicit Ticket(FlushGroup* group) noexcept : group_(group) {}
    Ticket(Ticket&& other) noexcept : group_(std::exchange(other.group_, nullptr)) {}
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket()
    {
        if (group_) group_->dropPending();
    }
    FlushGroup* take() noexcept { return std::exchange(group_, nullptr); }

private:
    FlushGroup* group_;
};

void FlushGroup::add(std::shared_ptr<WsConnection> c)
{
    std::unique_lock lock(mutex_);
    pending_.push_back(std::move(c));
    if (posted_) return;
    posted_ = true;
    lock.unlock();
    net::post(strand_, [ticket = Ticket(this)]() mutable { ticket.take()->run(); });
}

void FlushGroup::dropPending()
{
    std::vector<std::shared_ptr<WsConnection>> dropped;
    std::lock_guard lock(mutex_);
    posted_ = false;
    dropped.swap(pending_);
}

void FlushGroup::run()
{
    {
        std::lock_guard lock(mutex_);
        posted_ = false;
        running_.swap(pending_);
    }
    for (auto& c : running_) c->flush();
    running_.clear();
}

void WsConnection::queueFrame(Opcode opcode, std::string_view payload)
{
    const std::size_t before = outBuf_.size();
    writer_.appendFrame(outBuf_, opcode, payload);
    outBytes_ += outBuf_.size() - before;
    accountQueued(static_cast<std::ptrdiff_t>(outBuf_.size() - before));
}

std::size_t WsConnection::appendData(Opcode opcode, std::string_view payload)
{
    const std::size_t before = outBuf_.size();
    if (deflate_ && payload.size() >= deflate_->threshold) {
        if (!deflater_) deflater_ = makeDeflater(*deflate_, writer_.role());
        else if (deflaterStale_) deflater_->reset();
        deflaterStale_ = false;
        auto& compressed = deflater_->scratch;
        if (deflater_->compress(payload, compressed)) writer_.appendFrame(outBuf_, opcode, compressed, true, true);
        else writer_.appendFrame(outBuf_, opcode, payload);
        releaseIfLarge(compressed);
    } else {
        writer_.appendFrame(outBuf_, opcode, payload);
    }
    return outBuf_.size() - before;
}

SendResult WsConnection::sendData(Opcode opcode, std::string_view payload, SendCallback& done)
{
    std::unique_lock lock(outMutex_);
    if (const auto why = admit(payload.size() + maxFrameHeader); why != Errc{}) {
        lock.unlock();
        return refuse(why, done);
    }
    server_->metrics.messageSent(payload.size());
    const bool compress = deflate_ && payload.size() >= deflate_->threshold;
    // Only from this connection's own handler (which flushes what the socket does not take
    // before it returns); that check comes first: writing_ and finished_ are the strand's.
    // A client masks, so it always copies.
    if (!compress && payload.size() >= directWriteMin && flushesOnReturn == this && writer_.role() == Role::Server &&
        outSegments_.empty() && !writing_ && !finished_) {
        writeDirect(opcode, payload);
        if (done) outCallbacks_.push_back(std::move(done));  // flush() reports it once all is out
        return {};
    }
    const std::size_t added = appendData(opcode, payload);
    outBytes_ += added;
    accountQueued(static_cast<std::ptrdiff_t>(added));
    if (done) outCallbacks_.push_back(std::move(done));
    queued(lock);
    return {};
}

SendResult WsConnection::sendPrepared(const std::shared_ptr<const PreparedFrame>& frame, SendCallback& done)
{
    // The prepared bytes are an unmasked frame: a client (masking) frames the payload itself.
    if (writer_.role() == Role::Client)
        return sendData(frame->text ? Opcode::Text : Opcode::Binary, frame->payload(), done);
    std::unique_lock lock(outMutex_);
    if (const auto why = admit(frame->bytes.size()); why != Errc{}) {
        lock.unlock();
        return refuse(why, done);
    }
    queueShared(frame);
    if (done) outCallbacks_.push_back(std::move(done));
    queued(lock);
    return {};
}

Errc WsConnection::deliver(const std::shared_ptr<const PreparedFrame>& frame)
{
    std::unique_lock lock(outMutex_);
    if (const auto why = admit(frame->bytes.size()); why != Errc{}) return why;
    if (writer_.role() == Role::Client) {  // (client sessions have no topics today)
        const std::size_t added = appendData(frame->text ? Opcode::Text : Opcode::Binary, frame->payload());
        server_->metrics.messageSent(frame->payload().size());
        outBytes_ += added;
        accountQueued(static_cast<std::ptrdiff_t>(added));
    } else {
        queueShared(frame);
    }
    queued(lock);
    return {};
}

void WsConnection::queueShared(const std::shared_ptr<const PreparedFrame>& prepared)
{
    const std::shared_ptr<const PreparedFrame>* frame = &prepared;
    std::shared_ptr<const PreparedFrame> compressed;
    if (deflate_ && prepared->payload().size() >= deflate_->threshold) {
        // Compressed once for every session of this parameter class, without context: the
        // peer inflates it whatever its window holds, and our own next message starts a
        // new context (deflaterStale_), since the peer's window now holds data ours does not.
        compressed = compressedFrame(prepared, deflate_->serverMaxWindowBits, deflate_->memLevel);
        frame = &compressed;
        if (!deflate_->serverNoContextTakeover) deflaterStale_ = true;
    }
    const PreparedFrame& f = **frame;
    server_->metrics.messageSent(prepared->payload().size());
    // A small frame is cheaper to copy than to reference while the queue is short (it goes
    // out in this loop turn): about the cost of the reference count's atomic operations.
    // Behind a longer queue (a reader that fell behind) it is referenced, so a broadcast
    // held by many slow readers exists once.
    if (f.bytes.size() < copySharedBelow && outBuf_.size() < copyWhileQueueBelow) outBuf_.append(f.bytes);
    else outSegments_.push_back(Segment{outBuf_.size(), *frame});
    outBytes_ += f.bytes.size();
    accountQueued(static_cast<std::ptrdiff_t>(f.bytes.size()));
}

SendResult WsConnection::sendControl(Opcode opcode, std::string_view payload, SendCallback& done)
{
    if (payload.size() > maxControlPayload) return refuse(Errc::InvalidArgument, done);
    std::unique_lock lock(outMutex_);
    // The application's pings and pongs count against the send queue like any send.
    if (const auto why = admit(payload.size() + maxFrameHeader); why != Errc{}) {
        lock.unlock();
        return refuse(why, done);
    }
    queueFrame(opcode, payload);
    if (done) outCallbacks_.push_back(std::move(done));
    queued(lock);
    return {};
}

void WsConnection::queueCloseFrame()
{
    // Strand only. Bypasses outClosed_: the close frame is the last thing queued.
    const std::string payload = close_.closePayload();
    open_.store(false, std::memory_order_release);
    {
        std::lock_guard lock(outMutex_);
        outClosed_ = true;
        queueFrame(Opcode::Close, payload);
        outCloseQueued_ = true;
    }
    leaveTopics();
}

void WsConnection::writeDirect(Opcode opcode, std::string_view payload)
{
    // outMutex_ held, on the strand, nothing being written, server role: what is queued
    // goes first, then this frame, in one writev straight from the caller's memory.
    char header[maxFrameHeader];
    MaskKey unused;
    const std::size_t headerSize = writer_.writeHeader(header, opcode, payload.size(), true, false, unused);
    const net::const_buffer parts[3] = {net::buffer(outBuf_), net::buffer(header, headerSize), net::buffer(payload)};
    std::size_t written = doTryWrite(parts);
    if (written > 0 && policy_->resetIdleTimeoutOnSend) lastActivity_ = Clock::now();
    // Keep what the socket did not take, in order.
    const std::size_t fromQueue = std::min(written, outBuf_.size());
    outBuf_.erase(0, fromQueue);
    written -= fromQueue;
    const std::size_t fromHeader = std::min(written, headerSize);
    outBuf_.append(header + fromHeader, headerSize - fromHeader);
    written -= fromHeader;
    outBuf_.append(payload.substr(written));
    const std::size_t now = outBuf_.size();  // no segments: outBytes_ counts outBuf_ alone
    accountQueued(static_cast<std::ptrdiff_t>(now) - static_cast<std::ptrdiff_t>(outBytes_));
    outBytes_ = now;
}

void WsConnection::flush()
{
    FlushScope scope(this);  // sends from the callbacks of a completed batch
    // A loop, not recursion: a batch written at once completes here, and its callbacks may
    // queue the next one.
    while (!writing_ && !finished_) {
        bool empty;
        bool drained = false;
        {
            std::lock_guard lock(outMutex_);
            flushPosted_ = false;
            if (pendingPong_) {
                if (close_.canSend()) queueFrame(Opcode::Pong, *pendingPong_);  // nothing may follow our close frame
                pendingPong_.reset();
            }
            empty = outBuf_.empty() && outSegments_.empty() && outCallbacks_.empty();
            if (empty) {
                drained = drainWanted_;
                drainWanted_ = false;
            } else {
                // (Only callbacks: their data already went out directly; they complete below.)
                // Swapped, not moved: both sides keep their capacity, so steady traffic
                // allocates nothing; a large buffer is not kept by this connection (idle
                // connections would hold the capacity of everyone's bursts).
                auto& b = batch();
                b.buf.swap(outBuf_);
                releaseIfLarge(outBuf_, keepSendCapacity);
                b.segments.swap(outSegments_);
                b.callbacks.swap(outCallbacks_);
                b.close = outCloseQueued_;
                outCloseQueued_ = false;
                b.bytes = outBytes_;
                b.traffic = outBytes_ > keepAliveQueued_;
                outBytes_ = 0;
                keepAliveQueued_ = 0;
            }
        }
        if (empty) {
            // Everything is out. After backpressure the listener hears it; what onDrain
            // sends is flushed by this loop.
            if (!drained || !close_.canSend()) return;
            callListener([&] { listener_->onDrain(); });
            continue;
        }
        thread_local std::vector<net::const_buffer> iov;
        const std::size_t total = gather(batch(), iov);
        writing_ = true;
        // Try the socket first: usually it takes everything, and the batch completes without
        // an asynchronous write (no operation to allocate, no completion to dispatch).
        std::size_t written = total ? doTryWrite(iov) : 0;
        if (written == total) {
            if (!completeWrite({})) return;
            continue;
        }
        if (written > 0 && batch().traffic && policy_->resetIdleTimeoutOnSend) lastActivity_ = Clock::now();
        {
            std::lock_guard lock(outMutex_);
            drainWanted_ = true;  // the peer does not keep up: a producer may want to know
        }
        // The rest waits for the socket: the batch becomes this connection's until
        // onWriteDone, and its buffers are gathered again from where it now lives (a short
        // string's bytes sit inside the string object, so the swap moved them).
        if (!inflight_) {
            inflight_ = std::make_unique<WriteBatch>();
            std::swap(*inflight_, threadBatch());
        }
        auto& rest = inflight_->rest;
        gather(*inflight_, rest);
        std::size_t i = 0;
        while (written >= rest[i].size()) written -= rest[i++].size();
        rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(i));
        rest.front() += written;
        doWrite(rest);
        return;
    }
}

std::size_t WsConnection::gather(const WriteBatch& b, std::vector<net::const_buffer>& iov)
{
    iov.clear();
    std::size_t pos = 0;
    std::size_t total = 0;
    for (const auto& seg : b.segments) {
        if (seg.inlineEnd > pos) iov.emplace_back(b.buf.data() + pos, seg.inlineEnd - pos);
        pos = seg.inlineEnd;
        iov.emplace_back(seg.frame->bytes.data(), seg.frame->bytes.size());
    }
    if (pos < b.buf.size()) iov.emplace_back(b.buf.data() + pos, b.buf.size() - pos);
    for (const auto& part : iov) total += part.size();
    return total;
}

std::size_t WsConnection::sendCapacity()
{
    std::lock_guard lock(outMutex_);
    std::size_t bytes = outBuf_.capacity() > std::string().capacity() ? outBuf_.capacity() : 0;
    if (inflight_) bytes += inflight_->buf.capacity();
    return bytes;
}

// ---------------------------------------------------------------------------------------
// Memory budgets (Server::setWebSocketMemoryLimits)

namespace {
void requestEnforcement(const std::shared_ptr<SessionHost>& server, bool send)
{
    auto& budget = send ? server->sendBudget : server->receiveBudget;
    if (budget.enforcing.exchange(true, std::memory_order_acq_rel)) return;  // one pass at a time
    net::post(server->ioc, [server, send] { WsConnection::enforceBudget(server, send); });
}
}  // namespace

void WsConnection::accountQueued(std::ptrdiff_t delta) noexcept
{
    auto& budget = server_->sendBudget;
    if (delta >= 0) {
        const auto bytes = static_cast<std::size_t>(delta);
        buffered_.fetch_add(bytes, std::memory_order_relaxed);
        if (budget.used.fetch_add(bytes, std::memory_order_relaxed) + bytes > budget.limit)
            requestEnforcement(server_, true);
    } else {
        const auto bytes = static_cast<std::size_t>(-delta);
        buffered_.fetch_sub(bytes, std::memory_order_relaxed);
        budget.used.fetch_sub(bytes, std::memory_order_relaxed);
    }
}

void WsConnection::accountReceived() noexcept
{
    const std::size_t now = in_.inMessage() && !finished_ ? in_.heldBytes() : 0;
    const std::size_t before = receiveHeld_.load(std::memory_order_relaxed);
    if (now == before) return;
    receiveHeld_.store(now, std::memory_order_relaxed);
    auto& budget = server_->receiveBudget;
    if (now > before) {
        if (budget.used.fetch_add(now - before, std::memory_order_relaxed) + (now - before) > budget.limit)
            requestEnforcement(server_, false);
    } else {
        budget.used.fetch_sub(before - now, std::memory_order_relaxed);
    }
}

void WsConnection::enforceBudget(const std::shared_ptr<SessionHost>& server, bool send)
{
    auto& budget = send ? server->sendBudget : server->receiveBudget;
    struct Holder {
        std::size_t bytes;
        std::shared_ptr<WsConnection> connection;
    };
    std::vector<Holder> holders;
    std::size_t beingShed = 0;  // held by sessions chosen before, not yet released
    // Every session is on the deadline wheel; the lock keeps each one intact while it is
    // looked at, and the shared_ptrs taken here are released after the lock.
    server->deadlines.forEach([&](void* owner) {
        auto* c = static_cast<WsConnection*>(owner);
        const std::size_t bytes = (send ? c->buffered_ : c->receiveHeld_).load(std::memory_order_relaxed);
        if (bytes == 0) return;
        if (c->shedding_.load(std::memory_order_relaxed)) {
            beingShed += bytes;
            return;
        }
        if (auto self = c->weak_from_this().lock())
            holders.push_back(Holder{bytes, std::static_pointer_cast<WsConnection>(std::move(self))});
    });
    const std::size_t used = budget.used.load(std::memory_order_relaxed);
    std::size_t excess = used > budget.limit + beingShed ? used - budget.limit - beingShed : 0;
    if (excess > 0) {
        std::sort(holders.begin(), holders.end(), [](const Holder& a, const Holder& b) { return a.bytes > b.bytes; });
        for (auto& h : holders) {
            if (excess == 0) break;
            excess -= std::min(excess, h.bytes);
            h.connection->shedding_.store(true, std::memory_order_relaxed);
            log::warn("ws {} {}: server {} budget of {} bytes exceeded ({} in use); closing this session, which holds {}",
                      h.connection->id_, h.connection->request_->remoteAddress(), send ? "send" : "receive",
                      budget.limit, used, h.bytes);
            net::post(h.connection->strand_, [c = h.connection, send] { c->shedForBudget(send); });
        }
    }
    budget.enforcing.store(false, std::memory_order_release);
}

void WsConnection::shedForBudget(bool send)
{
    if (finished_) return;
    FlushScope scope(this);
    if (!send) {
        in_.releaseMemory();
        in_.discardData();
        accountReceived();
        fail(ProtocolFailure{CloseStatus::MessageTooBig, Errc::MemoryBudgetExceeded, "server receive budget exceeded"});
        flush();
        return;
    }
    // Discard what is queued: freeing it is the point, and a close frame behind it would
    // wait for the very reader that is not reading. A batch already being written stays
    // (it cannot be cut mid-frame) until the socket takes it or is closed.
    auto dropped = discardQueue();
    completeSends(dropped, make_error_code(Errc::SessionClosed));
    const ProtocolFailure failure{CloseStatus::PolicyViolation, Errc::MemoryBudgetExceeded, "server send budget exceeded"};
    if (writing_ || !close_.canSend()) {
        // A write is stuck behind the peer (or our close frame was among what was
        // discarded): no close frame can reach it in time, so the TCP connection closes.
        if (close_.canSend()) reportError(make_error_code(failure.error), failure.reason);
        apply(close_.abort(failure.status, failure.reason));
        return;
    }
    fail(failure);  // the reader is not reading: the close does not wait for its answer
    flush();
}

std::vector<SendCallback> WsConnection::discardQueue()
{
    std::vector<SendCallback> callbacks;
    std::lock_guard lock(outMutex_);
    outClosed_ = true;
    callbacks.swap(outCallbacks_);
    server_->metrics.queueDropped(outBytes_);
    accountQueued(-static_cast<std::ptrdiff_t>(outBytes_));
    outBytes_ = 0;
    keepAliveQueued_ = 0;
    std::string().swap(outBuf_);
    std::vector<Segment>().swap(outSegments_);
    outCloseQueued_ = false;
    pendingPong_.reset();
    return callbacks;
}

void WsConnection::completeSends(std::vector<SendCallback>& callbacks, std::error_code result)
{
    for (auto& cb : callbacks) {
        if (!cb) continue;
        try {
            cb(result);
        } catch (const std::exception& e) {
            log::error("ws {}: send callback threw: {}", id_, e.what());
        } catch (...) {
            log::error("ws {}: send callback threw a non-standard exception", id_);
        }
    }
}

std::shared_ptr<Closable> lockWebSocket(void* owner)
{
    return static_cast<WsConnection*>(owner)->weak_from_this().lock();
}

WsConnection::WriteBatch& WsConnection::threadBatch()
{
    thread_local WriteBatch batch;
    return batch;
}

void WsConnection::onWriteDone(const boost::system::error_code& ec)
{
    FlushScope scope(this);
    if (completeWrite(ec)) flush();
}

bool WsConnection::completeWrite(const boost::system::error_code& ec)
{
    auto& b = batch();
    writing_ = false;
    accountQueued(-static_cast<std::ptrdiff_t>(b.bytes));
    b.bytes = 0;
    if (b.traffic && policy_->resetIdleTimeoutOnSend) lastActivity_ = Clock::now();
    const std::error_code result = ec ? std::error_code(make_error_code(Errc::SessionClosed)) : std::error_code();
    completeSends(b.callbacks, result);
    b.callbacks.clear();
    b.segments.clear();
    b.rest.clear();
    b.buf.clear();
    releaseIfLarge(b.buf);
    const bool wroteClose = b.close;
    b.close = false;
    if (inflight_ && !writesAsynchronously()) inflight_.reset();  // (b is gone from here)
    if (finished_) return false;
    if (ec) {
        if (ec != net::error::operation_aborted && close_.canSend()) {
            reportError(static_cast<std::error_code>(ec), "write failed: " + ec.message());
            apply(close_.abort(CloseStatus::Abnormal, ec.message()));
        } else {
            apply(close_.transportClosed());
        }
        return false;
    }
    if (wroteClose) apply(close_.closeWritten());
    return !finished_;
}

}  // namespace wharf::detail

// ---------------------------------------------------------------------------------------
// Topics

namespace wharf::detail {

WsConnection::Subscriptions* WsConnection::subscriptions()
{
    auto* s = subscriptions_.load(std::memory_order_acquire);
    if (s) return s;
    auto fresh = std::make_unique<Subscriptions>();
    if (subscriptions_.compare_exchange_strong(s, fresh.get(), std::memory_order_acq_rel)) return fresh.release();
    return s;  // another thread made it first
}

bool WsConnection::subscribe(std::string_view name, const TopicPosition* since)
{
    if (!server_->topics || name.empty()) return false;
    auto* subs = subscriptions();
    std::lock_guard lock(subs->mutex);
    if (subs->closed) return false;
    bool created = false;
    // With a broker the subscriber's messages are held until the broker has placed it in
    // the topic (its position, and the history after `since`); in-process it starts now.
    const bool place = server_->topics->hasBroker();
    const std::uint64_t ticket = place ? ++nextTicket_ : 0;
    auto topic = server_->topics->join(name, *this, created, ticket);
    if (!topic) return false;
    subs->topics.push_back(std::move(topic));
    server_->metrics.subscribersChanged(1);
    if (created) server_->metrics.topicsChanged(1);
    if (place) server_->topics->place(name, weak_from_this(), ticket, since ? std::optional(*since) : std::nullopt);
    else if (since) topicGap(std::string(name), TopicGap{0, 0, true});  // no history here
    return true;
}

void WsConnection::placed(std::string name, std::uint64_t ticket, TopicPosition position, std::optional<TopicGap> gap,
                          std::vector<OffsetMessage> history)
{
    boost::asio::post(strand_, [self = shared_from_this(), name = std::move(name), ticket,
                                position = std::move(position), gap, history = std::move(history)] {
        std::shared_ptr<Topic> topic;
        if (auto* subs = self->subscriptions_.load(std::memory_order_acquire)) {
            std::lock_guard lock(subs->mutex);
            for (const auto& t : subs->topics)
                if (t->name == name) topic = t;
        }
        // Unsubscribed or closed meanwhile, or subscribed again (a later ticket places that).
        if (!topic || !self->server_->topics->holds(*topic, *self, ticket)) return;
        // The listener first: what it sends from onSubscribed precedes the topic's messages.
        if (gap) self->callListener([&] { self->listener_->onTopicGap(name, *gap); });
        self->callListener([&] { self->listener_->onSubscribed(name, position); });
        self->server_->topics->release(topic, *self, ticket, history, position.offset);
    });
}

bool WsConnection::unsubscribe(std::string_view name)
{
    auto* subs = subscriptions_.load(std::memory_order_acquire);
    if (!subs) return false;
    std::lock_guard lock(subs->mutex);
    const auto it = std::find_if(subs->topics.begin(), subs->topics.end(), [&](const auto& t) { return t->name == name; });
    if (it == subs->topics.end()) return false;
    leave(*it);
    subs->topics.erase(it);
    return true;
}

bool WsConnection::isSubscribed(std::string_view name)
{
    auto* subs = subscriptions_.load(std::memory_order_acquire);
    if (!subs) return false;
    std::lock_guard lock(subs->mutex);
    return std::any_of(subs->topics.begin(), subs->topics.end(), [&](const auto& t) { return t->name == name; });
}

std::vector<std::string> WsConnection::topics()
{
    std::vector<std::string> names;
    auto* subs = subscriptions_.load(std::memory_order_acquire);
    if (!subs) return names;
    std::lock_guard lock(subs->mutex);
    names.reserve(subs->topics.size());
    for (const auto& t : subs->topics) names.push_back(t->name);
    return names;
}

void WsConnection::leave(const std::shared_ptr<Topic>& topic)
{
    const bool last = server_->topics->leave(topic, *this);
    server_->metrics.subscribersChanged(-1);
    if (last) server_->metrics.topicsChanged(-1);
}

std::size_t WsConnection::publish(std::string_view topic, const Message& message, PublishHandler done)
{
    if (!server_->topics) {
        if (done) done(make_error_code(Errc::InvalidArgument));  // a client session: no topics
        return 0;
    }
    return server_->topics->route(topic, message, id_, std::move(done));
}

void WsConnection::topicGap(std::string topic, const TopicGap& gap)
{
    boost::asio::post(strand_, [self = shared_from_this(), topic = std::move(topic), gap] {
        self->callListener([&] { self->listener_->onTopicGap(topic, gap); });
    });
}

void WsConnection::leaveTopics()
{
    auto* subs = subscriptions_.load(std::memory_order_acquire);
    if (!subs) return;
    std::lock_guard lock(subs->mutex);
    subs->closed = true;
    for (const auto& t : subs->topics) leave(t);
    subs->topics.clear();
}

}  // namespace wharf::detail
