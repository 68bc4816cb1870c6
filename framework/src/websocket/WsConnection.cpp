#include "detail/WsConnection.hpp"

#include "detail/Format.hpp"

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
// Shared frames up to this size are copied into the write buffer (cheaper than an iovec).
constexpr std::size_t copySharedBelow = 2048;
// ... while the session's queue is shorter than this.
constexpr std::size_t copyWhileQueueBelow = 16 * 1024;
// Payloads from this size sent on the strand with nothing in flight are written from the
// caller's memory (no copy into the send buffer) when the socket takes them at once.
constexpr std::size_t directWriteMin = 8 * 1024;

void releaseIfLarge(std::string& s)
{
    if (s.capacity() > keepCapacity) std::string().swap(s);
}

/// A close reason must fit a control frame (125 - 2 bytes of code) and be UTF-8.
std::string clampReason(std::string_view reason)
{
    if (reason.size() > maxControlPayload - 2) {
        reason = reason.substr(0, maxControlPayload - 2);
        // Cut back to a code-point boundary.
        while (!reason.empty() && !isValidUtf8(reason)) reason.remove_suffix(1);
    }
    return isValidUtf8(reason) ? std::string(reason) : std::string();
}

}  // namespace

namespace {
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

WsConnection::WsConnection(Strand strand, std::shared_ptr<ServerState> server, UpgradeAction& action)
    : strand_(std::move(strand)),
      server_(std::move(server)),
      request_(std::move(action.request)),
      policy_(std::move(action.policy)),
      deflate_(action.deflate ? std::make_unique<const DeflateParams>(*action.deflate) : nullptr),
      listener_(std::move(action.listener)),
      id_(++nextConnectionId),
      idleTimeout_(policy_->idleTimeout)
{
    partial_ = dynamic_cast<WebSocketPartialListener*>(listener_.get());
    pingPong_ = dynamic_cast<WebSocketPingPongListener*>(listener_.get());
    deadline_.fire = &WsConnection::fireDeadline;
    deadline_.owner = this;
}

WsConnection::~WsConnection() { server_->deadlines.unlink(deadline_); }

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
    if (!closeSent_) {
        readStopped_ = true;
        closeAfterWrite_ = true;
        closeStatus_ = CloseStatus::InternalError;
        closeReason_ = "internal error";
        queueClose(CloseStatus::InternalError, closeReason_);
    }
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
    lastActivity_ = Clock::now();
    log::debug("ws {} {}: open {}", id_, request_->remoteAddress(), request_->path());
    server_->deadlines.link(deadline_);
    armTimer();
    connected_ = true;
    callListener([&] { listener_->onConnect(Session(shared_from_this())); });
    if (server_->stopping.load()) closeLocal(CloseStatus::GoingAway, "server stopping");
    if (!early.empty() && !readStopped_) {
        std::string copy(early);
        onBytes(copy.data(), copy.size());  // flushes
    } else {
        flush();
    }
    if (!readStopped_) doRead();
}

void WsConnection::teardown(CloseStatus status, std::string_view reason)
{
    if (finished_) return;
    readStopped_ = true;
    open_.store(false, std::memory_order_release);
    DeadlineSweeper::clear(deadline_);
    closeDeadline_ = Clock::time_point::max();
    doCloseSocket();
    auto unsent = discardQueue();
    log::debug("ws {} {}: closed {} ({}) {}", id_, request_->remoteAddress(), static_cast<int>(status), closeStatusName(status), reason);
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
    completeSends(unsent, make_error_code(Errc::SessionClosed));
    listener_.reset();
    inflater_.reset();
    {
        std::lock_guard lock(outMutex_);
        deflater_.reset();
    }
    std::string().swap(message_);
    messageOpcode_ = 0;
    accountReceived();
    server_->webSocketCount.fetch_sub(1, std::memory_order_relaxed);
}

void WsConnection::gracefulClose() { close(CloseStatus::GoingAway, "server stopping"); }

void WsConnection::forceClose()
{
    net::post(strand_, [self = shared_from_this()] {
        self->reportError(make_error_code(Errc::ServerStopping), "the server stopped before the close handshake completed");
        self->teardown(CloseStatus::GoingAway, "server stopping");
    });
}

void WsConnection::disconnect()
{
    net::post(strand_, [self = shared_from_this()] { self->teardown(CloseStatus::Abnormal, "disconnected"); });
}

void WsConnection::close(CloseStatus status, std::string_view reason)
{
    {
        std::lock_guard lock(outMutex_);
        if (outClosed_) return;
        outClosed_ = true;  // sends after close() fail; those before it go out first
    }
    open_.store(false, std::memory_order_release);
    net::post(strand_, [self = shared_from_this(), status, r = std::string(reason)] {
        self->closeLocal(status, r);
        self->flush();
    });
}

void WsConnection::closeLocal(CloseStatus status, std::string_view reason)
{
    if (closeSent_ || finished_) return;
    if (!isValidWireCloseCode(static_cast<std::uint16_t>(status))) {
        log::warn("ws {}: close({}) is not a valid close code; sending 1011", id_, static_cast<int>(status));
        status = CloseStatus::InternalError;
    }
    closeStatus_ = status;
    closeReason_ = clampReason(reason);
    queueClose(status, closeReason_);
}

void WsConnection::setIdleTimeout(std::chrono::milliseconds timeout)
{
    net::post(strand_, [self = shared_from_this(), timeout] {
        if (self->finished_) return;
        self->idleTimeout_ = timeout;
        self->armTimer();
    });
}

// ---------------------------------------------------------------------------------------
// Timer: one per connection, serving the idle timeout and the close timeout. It is not
// re-armed on every frame: when it fires early (there was activity) it is set again.

void WsConnection::armTimer()
{
    Clock::time_point deadline = Clock::time_point::max();
    if (closeSent_) {
        deadline = closeDeadline_;
    } else {
        if (idleTimeout_.count() > 0) deadline = lastActivity_ + idleTimeout_;
        if (messageOpcode_ != 0 && policy_->messageTimeout.count() > 0)
            deadline = std::min(deadline, messageStarted_ + policy_->messageTimeout);
    }
    if (deadline == Clock::time_point::max()) DeadlineSweeper::clear(deadline_);
    else DeadlineSweeper::set(deadline_, deadline);
}

void WsConnection::setStreamDeadline(Clock::duration after)
{
    server_->deadlines.link(deadline_);  // (linked already unless start() never ran)
    closeDeadline_ = Clock::now() + after;
    DeadlineSweeper::set(deadline_, closeDeadline_);
}

void WsConnection::clearStreamDeadline()
{
    closeDeadline_ = Clock::time_point::max();
    DeadlineSweeper::clear(deadline_);
}

void WsConnection::fireDeadline(void* connection)
{
    // The sweeper's lock is held: a connection being destroyed waits in unlink(), so the
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
        else DeadlineSweeper::set(deadline_, closeDeadline_);
        return;
    }
    const auto now = Clock::now();
    if (closeSent_) {
        if (now >= closeDeadline_) {
            log::debug("ws {}: no close frame from the peer within {} ms", id_, policy_->closeTimeout.count());
            teardown(closeStatus_, closeReason_);
            return;
        }
    } else if (idleTimeout_.count() > 0 && now >= lastActivity_ + idleTimeout_) {
        log::debug("ws {} {}: idle for {} ms, closing", id_, request_->remoteAddress(), idleTimeout_.count());
        {
            std::lock_guard lock(outMutex_);
            outClosed_ = true;
        }
        open_.store(false, std::memory_order_release);
        closeLocal(CloseStatus::GoingAway, "idle timeout");
        flush();
        return;  // queueClose armed the close deadline
    } else if (messageOpcode_ != 0 && policy_->messageTimeout.count() > 0 &&
               now >= messageStarted_ + policy_->messageTimeout) {
        dropMessage();
        fail(CloseStatus::PolicyViolation, Errc::MessageTimeout,
             fmt::format("message not complete within {} ms", policy_->messageTimeout.count()));
        flush();
        return;
    }
    armTimer();
}

// ---------------------------------------------------------------------------------------
// Receiving

void WsConnection::onReadError(const boost::system::error_code& ec)
{
    if (finished_) return;
    readStopped_ = true;
    if (ec == net::error::operation_aborted) {
        teardown(closeStatus_, closeReason_);
        return;
    }
    const bool eof = ec == net::error::eof || ec == net::error::connection_reset;
    if (closeSent_ && eof) {
        // The peer closed TCP after (or instead of) answering our close frame.
        teardown(closeStatus_, closeReason_);
        return;
    }
    // (The conversion keeps the category: a TLS error stays an SSL error, not errno.)
    if (!eof) reportError(static_cast<std::error_code>(ec), ec.message());
    teardown(CloseStatus::Abnormal, eof ? "connection closed without a close frame" : ec.message());
}

bool WsConnection::onBytes(char* data, std::size_t size)
{
    FlushScope scope(this);
    lastActivity_ = Clock::now();
    char* p = data;
    parse(p, data + size);
    flush();
    return !readStopped_;
}

void WsConnection::fail(CloseStatus status, Errc error, std::string_view why)
{
    log::debug("ws {} {}: failing with {}: {}", id_, request_->remoteAddress(), static_cast<int>(status), why);
    readStopped_ = true;
    closeAfterWrite_ = true;
    if (closeSent_) {
        if (closeWritten_) teardown(closeStatus_, closeReason_);
        return;
    }
    {
        std::lock_guard lock(outMutex_);
        outClosed_ = true;
    }
    open_.store(false, std::memory_order_release);
    reportError(make_error_code(error), std::string(why));
    closeStatus_ = status;
    closeReason_ = clampReason(why);
    queueClose(status, closeReason_);
}

bool WsConnection::parse(char*& p, char* const end)
{
    while (p < end && !readStopped_) {
        if (phase_ == Phase::Header) {
            const std::uint8_t* h;
            std::size_t headerSize;
            if (headerHave_ == 0 && end - p >= 2 &&
                end - p >= static_cast<std::ptrdiff_t>(
                               2 + ((p[1] & 0x7F) == 126 ? 2 : (p[1] & 0x7F) == 127 ? 8 : 0) + 4)) {
                h = reinterpret_cast<const std::uint8_t*>(p);  // whole header in the buffer
            } else {
                // Collect the header across reads.
                while (p < end && headerHave_ < 2) header_[headerHave_++] = static_cast<std::uint8_t>(*p++);
                if (headerHave_ < 2) return true;
                const std::size_t want = 2 + ((header_[1] & 0x7F) == 126 ? 2 : (header_[1] & 0x7F) == 127 ? 8 : 0) +
                                         ((header_[1] & 0x80) ? 4 : 0);
                while (p < end && headerHave_ < want) header_[headerHave_++] = static_cast<std::uint8_t>(*p++);
                if (headerHave_ < want) {
                    if (!(header_[1] & 0x80)) break;  // unmasked: fail below without waiting
                    return true;
                }
                h = header_;
            }
            const std::uint8_t len7 = h[1] & 0x7F;
            std::uint64_t length = len7;
            std::size_t at = 2;
            if (len7 == 126) {
                length = (std::uint64_t(h[2]) << 8) | h[3];
                at = 4;
            } else if (len7 == 127) {
                length = 0;
                for (int i = 0; i < 8; ++i) length = (length << 8) | h[2 + i];
                at = 10;
            }
            headerSize = at + ((h[1] & 0x80) ? 4 : 0);
            if (h == header_) headerHave_ = 0;
            else p += headerSize;
            if (!startFrame(h, at, length)) return false;
            if (frameRemaining_ == 0) {
                // An empty frame still ends its message: a compressed message must see
                // its end (RFC 7692 7.2.2 tail) even when the final fragment is empty.
                if (!onPayload(p, 0, true)) return false;
                if (!onFrameComplete()) return false;
                continue;
            }
            phase_ = Phase::Payload;
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(frameRemaining_, end - p));
        maskOffset_ = static_cast<std::uint8_t>(applyMask(p, n, mask_, maskOffset_));
        frameRemaining_ -= n;
        const bool frameEnd = frameRemaining_ == 0;
        char* chunk = p;
        p += n;
        if (!onPayload(chunk, n, frameEnd)) return false;
        if (frameEnd) {
            phase_ = Phase::Header;
            if (!onFrameComplete()) return false;
        }
    }
    if (headerHave_ >= 2 && !(header_[1] & 0x80) && !readStopped_) {
        fail(CloseStatus::ProtocolError, Errc::ProtocolError, "client frames must be masked");
        return false;
    }
    return !readStopped_;
}

bool WsConnection::startFrame(const std::uint8_t* h, std::size_t maskAt, std::uint64_t length)
{
    const bool fin = h[0] & 0x80;
    const bool rsv1 = h[0] & 0x40;
    const std::uint8_t op = h[0] & 0x0F;
    if (!(h[1] & 0x80)) return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "client frames must be masked"), false;
    if (length >> 63)  // RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "64-bit payload length with the top bit set"), false;
    // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
    if (((h[1] & 0x7F) == 126 && length < 126) || ((h[1] & 0x7F) == 127 && length <= 0xFFFF))
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "payload length not in its minimal encoding"), false;
    if (h[0] & 0x30)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV2/RSV3 set without a negotiated extension"), false;
    if (!isKnownOpcode(op))
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, fmt::format("reserved opcode {:#x}", op)), false;
    if (isControl(op)) {
        if (!fin) return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "fragmented control frame"), false;
        if (length > maxControlPayload)
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "control frame payload over 125 bytes"), false;
        if (rsv1) return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV1 set on a control frame"), false;
        control_.clear();
    } else {
        if (op == static_cast<std::uint8_t>(Opcode::Continuation)) {
            if (messageOpcode_ == 0)
                return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "continuation frame without a message"), false;
            if (rsv1)
                return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV1 set on a continuation frame"), false;
        } else {
            if (messageOpcode_ != 0)
                return fail(CloseStatus::ProtocolError, Errc::ProtocolError,
                            "new data frame inside a fragmented message"), false;
            if (rsv1 && !deflate_)
                return fail(CloseStatus::ProtocolError, Errc::ProtocolError,
                            "RSV1 set without permessage-deflate"), false;
            messageOpcode_ = op;
            messageCompressed_ = rsv1;
            messageReceived_ = 0;
            messageStarted_ = lastActivity_;  // (this read's time)
            if (policy_->messageTimeout.count() > 0) {
                // The sweeper fires once per deadline: bring it forward if this one is sooner.
                const auto due = (messageStarted_ + policy_->messageTimeout).time_since_epoch().count();
                if (deadline_.due.load(std::memory_order_relaxed) > due) DeadlineSweeper::set(deadline_, messageStarted_ + policy_->messageTimeout);
            }
            utf8_.reset();
            message_.clear();
        }
        // A compressed frame may carry a little more than its share of the inflated
        // message (deflate overhead on incompressible data): same slack as below.
        const std::size_t frameLimit =
            messageCompressed_ ? policy_->maxFrameSize + policy_->maxFrameSize / 64 + 64 : policy_->maxFrameSize;
        if (length > frameLimit)
            return fail(CloseStatus::MessageTooBig, Errc::MessageTooBig,
                        fmt::format("frame of {} bytes exceeds the limit of {}", length, policy_->maxFrameSize)), false;
        messageReceived_ += length;
        // Compressed messages are limited by their inflated size; the wire size only
        // needs a bound, as deflate can expand incompressible data a little.
        const std::size_t wireLimit = messageCompressed_ ? messageLimit() + messageLimit() / 64 + 64 : messageLimit();
        if (messageReceived_ > wireLimit)
            return fail(CloseStatus::MessageTooBig, Errc::MessageTooBig,
                        fmt::format("message exceeds the limit of {} bytes", messageLimit())), false;
        discard_ = closeSent_;
    }
    frameOpcode_ = op;
    frameFin_ = fin;
    frameLength_ = length;
    frameRemaining_ = length;
    frameDelivered_ = false;
    std::memcpy(mask_, h + maskAt, 4);
    maskOffset_ = 0;
    return true;
}

bool WsConnection::onPayload(char* data, std::size_t size, bool frameEnd)
{
    if (isControl(frameOpcode_)) {
        control_.append(data, size);
        return true;
    }
    if (discard_) return true;
    const bool text = messageOpcode_ == static_cast<std::uint8_t>(Opcode::Text);
    const bool messageEnd = frameEnd && frameFin_;
    if (messageCompressed_) {
        if (!inflater_) inflater_ = std::make_unique<Inflater>(deflate_->clientNoContextTakeover);
        const std::size_t before = message_.size();
        switch (inflater_->inflate(std::string_view(data, size), message_, messageLimit(), messageEnd)) {
        case Inflater::Result::Ok: break;
        case Inflater::Result::TooBig:
            return fail(CloseStatus::MessageTooBig, Errc::MessageTooBig,
                        fmt::format("inflated message exceeds the limit of {} bytes", messageLimit())), false;
        case Inflater::Result::Error:
            return fail(CloseStatus::InvalidPayload, Errc::CompressionError, "invalid permessage-deflate data"), false;
        }
        accountReceived();
        if (text && !utf8_.feed(std::string_view(message_).substr(before)))
            return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message is not valid UTF-8"), false;
        return true;
    }
    const std::string_view chunk(data, size);
    if (text && !utf8_.feed(chunk))
        return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message is not valid UTF-8"), false;
    if (frameEnd && size == frameLength_ && message_.empty() && (frameFin_ || partial_)) {
        // The whole frame is in the read buffer: hand it over without copying. A partial
        // text fragment keeps an unfinished code point back for the next fragment.
        frameDelivered_ = true;
        const std::size_t keep = text && !frameFin_ ? utf8_.pendingBytes() : 0;
        if (!deliverMessageChunk(chunk.substr(0, size - keep), frameFin_)) return false;
        message_.append(chunk.substr(size - keep));
        return true;
    }
    message_.append(chunk);
    accountReceived();
    return true;
}

bool WsConnection::onFrameComplete()
{
    if (isControl(frameOpcode_)) return handleControl(control_);
    if (discard_) {
        if (frameFin_) messageOpcode_ = 0;
        return true;
    }
    if (!frameDelivered_) {
        if (partial_) {
            // Hold back an unfinished code point for the next fragment.
            const std::size_t keep = messageOpcode_ == static_cast<std::uint8_t>(Opcode::Text) ? utf8_.pendingBytes() : 0;
            if (!deliverMessageChunk(std::string_view(message_).substr(0, message_.size() - keep), frameFin_)) return false;
            message_.erase(0, message_.size() - keep);
        } else if (frameFin_) {
            if (!deliverMessageChunk(message_, true)) return false;
        }
    }
    if (frameFin_) {
        messageOpcode_ = 0;
        message_.clear();
        releaseIfLarge(message_);
        accountReceived();
    }
    return !readStopped_;
}

bool WsConnection::deliverMessageChunk(std::string_view data, bool messageEnd)
{
    const bool text = messageOpcode_ == static_cast<std::uint8_t>(Opcode::Text);
    if (text && messageEnd && !utf8_.complete())
        return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message ends inside a code point"), false;
    if (closeSent_) return true;  // nothing is delivered once we are closing
    const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.data()), data.size());
    if (partial_) {
        if (text) callListener([&] { partial_->onTextFragment(data, messageEnd); });
        else callListener([&] { partial_->onBinaryFragment(bytes, messageEnd); });
    } else if (text) {
        callListener([&] { listener_->onText(data); });
    } else {
        callListener([&] { listener_->onBinary(bytes); });
    }
    if (messageEnd) messageOpcode_ = 0;
    return !readStopped_;
}

bool WsConnection::handleControl(std::string_view payload)
{
    const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
    switch (static_cast<Opcode>(frameOpcode_)) {
    case Opcode::Ping: {
        if (!closeSent_) {
            // Answered even when the send queue is full. While the socket takes what we
            // write, every ping gets its pong in this loop turn; once a write waits for the
            // peer, only the most recent ping is answered (RFC 6455 5.5.3 allows it): its
            // pong replaces the one still pending, so a peer that pings and never reads
            // holds one read's worth of pongs at most, not one per ping.
            std::lock_guard lock(outMutex_);
            if (!outClosed_) {
                if (!writing_) {
                    appendFrame(outBuf_, Opcode::Pong, payload);
                    outBytes_ += payload.size() + 2;
                    accountQueued(static_cast<std::ptrdiff_t>(payload.size() + 2));
                } else {
                    if (!pendingPong_) pendingPong_ = std::make_unique<std::string>();
                    pendingPong_->assign(payload);
                }
            }
        }
        if (pingPong_) callListener([&] { pingPong_->onPing(bytes); });
        return !readStopped_;
    }
    case Opcode::Pong:
        if (pingPong_) callListener([&] { pingPong_->onPong(bytes); });
        return !readStopped_;
    case Opcode::Close: break;
    default: return true;
    }
    // RFC 6455 5.5.1 and 7.4.
    closeReceived_ = true;
    CloseStatus status = CloseStatus::NoStatus;
    std::string_view reason;
    if (payload.size() == 1)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "close frame with a 1-byte payload"), false;
    if (payload.size() >= 2) {
        const auto code = static_cast<std::uint16_t>((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
        if (!isValidWireCloseCode(code))
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError, fmt::format("invalid close code {}", code)), false;
        reason = payload.substr(2);
        if (!isValidUtf8(reason))
            return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "close reason is not valid UTF-8"), false;
        status = static_cast<CloseStatus>(code);
    }
    readStopped_ = true;  // nothing after a close frame is processed
    if (!closeSent_) {
        {
            std::lock_guard lock(outMutex_);
            outClosed_ = true;
        }
        open_.store(false, std::memory_order_release);
        closeStatus_ = status;
        closeReason_ = std::string(reason);
        closeAfterWrite_ = true;
        queueClose(status, {});  // echo the code (RFC 6455 5.5.1)
    } else if (closeWritten_) {
        teardown(closeStatus_, closeReason_);
    } else {
        closeAfterWrite_ = true;
    }
    return false;
}

// ---------------------------------------------------------------------------------------
// Sending

WsConnection::Admit WsConnection::admit(std::size_t bytes)
{
    // outClosed_ (guarded by outMutex_) is set before teardown: no need to read the
    // strand-only finished_ from a foreign thread. A session chosen to be shed for the
    // server's budget takes nothing more while its close is on the way, nor, once the
    // server stops, any session.
    if (outClosed_ || shedding_.load(std::memory_order_relaxed) || server_->stopping.load(std::memory_order_relaxed))
        return Admit::Closed;
    const std::size_t queued = buffered_.load(std::memory_order_relaxed);
    // A message larger than the whole limit may still go when nothing is queued.
    if (queued > 0 && queued + bytes > policy_->maxSendQueueSize) return Admit::Full;
    // The server's send budget is enforced by closing the largest queues, which takes a
    // moment; meanwhile a fast producer could queue without bound. Twice the budget is a
    // hard stop: sends are refused as if this session's queue were full.
    const auto& budget = server_->sendBudget;
    if (budget.limit <= SIZE_MAX / 2 && budget.used.load(std::memory_order_relaxed) + bytes > 2 * budget.limit)
        return Admit::Full;
    return Admit::Ok;
}

bool WsConnection::refuse(Admit why, SendCallback& done)
{
    const auto ec = why == Admit::Full ? make_error_code(Errc::SendQueueFull) : server_->closedError();
    log::debug("ws {}: send refused: {}", id_, ec.message());
    if (done) done(ec);
    return false;
}


void WsConnection::queued(std::unique_lock<SmallMutex>& lock)
{
    if (flushPosted_ || flushesOnReturn == this) return;  // flushed before the handler returns
    flushPosted_ = true;
    lock.unlock();
    net::post(strand_, [self = shared_from_this()] { self->flush(); });
}

bool WsConnection::sendData(Opcode opcode, std::string_view payload, SendCallback& done)
{
    std::unique_lock lock(outMutex_);
    if (const auto a = admit(payload.size() + 10); a != Admit::Ok) {
        lock.unlock();
        return refuse(a, done);
    }
    const std::size_t before = outBuf_.size();
    const bool compress = deflate_ && payload.size() >= deflate_->threshold;
    // Only from this connection's own handler (which flushes what the socket does not take
    // before it returns); that check comes first: writing_ and finished_ are the strand's.
    if (!compress && payload.size() >= directWriteMin && flushesOnReturn == this && outSegments_.empty() &&
        !writing_ && !finished_) {
        writeDirect(opcode, payload);
        if (done) outCallbacks_.push_back(std::move(done));  // flush() reports it once all is out
        return true;
    }
    if (compress) {
        if (!deflater_) deflater_ = std::make_unique<Deflater>(*deflate_);
        auto& compressed = deflater_->scratch;
        if (deflater_->compress(payload, compressed)) appendFrame(outBuf_, opcode, compressed, true, true);
        else appendFrame(outBuf_, opcode, payload);
        releaseIfLarge(compressed);
    } else {
        appendFrame(outBuf_, opcode, payload);
    }
    const std::size_t added = outBuf_.size() - before;
    outBytes_ += added;
    accountQueued(static_cast<std::ptrdiff_t>(added));
    if (done) outCallbacks_.push_back(std::move(done));
    queued(lock);
    return true;
}

bool WsConnection::sendPrepared(const std::shared_ptr<const PreparedFrame>& frame, SendCallback& done)
{
    if (deflate_ && frame->payload().size() >= deflate_->threshold)
        return sendData(frame->text ? Opcode::Text : Opcode::Binary, frame->payload(), done);
    std::unique_lock lock(outMutex_);
    if (const auto a = admit(frame->bytes.size()); a != Admit::Ok) {
        lock.unlock();
        return refuse(a, done);
    }
    // A small frame is cheaper to copy than to reference while the queue is short (it goes
    // out in this loop turn); behind a longer queue (a reader that fell behind) it is
    // referenced, so a broadcast held by many slow readers exists once.
    if (frame->bytes.size() < copySharedBelow && outBuf_.size() < copyWhileQueueBelow) outBuf_.append(frame->bytes);
    else outSegments_.push_back(Segment{outBuf_.size(), frame});
    outBytes_ += frame->bytes.size();
    accountQueued(static_cast<std::ptrdiff_t>(frame->bytes.size()));
    if (done) outCallbacks_.push_back(std::move(done));
    queued(lock);
    return true;
}

bool WsConnection::sendControl(Opcode opcode, std::string_view payload, SendCallback& done)
{
    if (payload.size() > maxControlPayload) {
        if (done) done(make_error_code(Errc::InvalidArgument));
        return false;
    }
    std::unique_lock lock(outMutex_);
    // The application's pings and pongs count against the send queue like any send.
    if (const auto a = admit(payload.size() + 2); a != Admit::Ok) {
        lock.unlock();
        return refuse(a, done);
    }
    appendFrame(outBuf_, opcode, payload);
    outBytes_ += payload.size() + 2;
    accountQueued(static_cast<std::ptrdiff_t>(payload.size() + 2));
    if (done) outCallbacks_.push_back(std::move(done));
    queued(lock);
    return true;
}

void WsConnection::queueClose(CloseStatus status, std::string_view reason)
{
    // Strand only. Bypasses outClosed_: the close frame is the last thing queued.
    closeSent_ = true;
    open_.store(false, std::memory_order_release);
    std::string payload;
    if (status != CloseStatus::NoStatus) {
        const auto code = static_cast<std::uint16_t>(status);
        payload.push_back(static_cast<char>(code >> 8));
        payload.push_back(static_cast<char>(code & 0xFF));
        payload.append(reason);
    }
    {
        std::lock_guard lock(outMutex_);
        outClosed_ = true;
        appendFrame(outBuf_, Opcode::Close, payload);
        outBytes_ += payload.size() + 2;
        accountQueued(static_cast<std::ptrdiff_t>(payload.size() + 2));
        outCloseQueued_ = true;
    }
    closeDeadline_ = Clock::now() + policy_->closeTimeout;
    armTimer();
}

void WsConnection::writeDirect(Opcode opcode, std::string_view payload)
{
    // outMutex_ held, on the strand, nothing being written: what is queued goes first,
    // then this frame, in one writev straight from the caller's memory.
    std::string header;
    appendFrameHeader(header, opcode, payload.size());
    const net::const_buffer parts[3] = {net::buffer(outBuf_), net::buffer(header), net::buffer(payload)};
    std::size_t written = doTryWrite(parts);
    if (written > 0) lastActivity_ = Clock::now();
    // Keep what the socket did not take, in order.
    const std::size_t fromQueue = std::min(written, outBuf_.size());
    outBuf_.erase(0, fromQueue);
    written -= fromQueue;
    const std::size_t fromHeader = std::min(written, header.size());
    outBuf_.append(header, fromHeader);
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
        {
            std::lock_guard lock(outMutex_);
            flushPosted_ = false;
            if (pendingPong_) {
                if (!closeSent_) {  // nothing may follow our close frame
                    appendFrame(outBuf_, Opcode::Pong, *pendingPong_);
                    outBytes_ += pendingPong_->size() + 2;
                    accountQueued(static_cast<std::ptrdiff_t>(pendingPong_->size() + 2));
                }
                pendingPong_.reset();
            }
            if (outBuf_.empty() && outSegments_.empty() && outCallbacks_.empty()) return;
            // (Only callbacks: their data already went out directly; they complete below.)
            // Swapped, not moved: both sides keep their capacity, so steady traffic
            // allocates nothing.
            auto& b = batch();
            b.buf.swap(outBuf_);
            b.segments.swap(outSegments_);
            b.callbacks.swap(outCallbacks_);
            b.close = outCloseQueued_;
            outCloseQueued_ = false;
            b.bytes = outBytes_;
            outBytes_ = 0;
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
        if (written > 0) lastActivity_ = Clock::now();
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

std::size_t WsConnection::messageLimit() const noexcept
{
    return messageOpcode_ == static_cast<std::uint8_t>(Opcode::Text) ? policy_->maxTextMessageSize
                                                                      : policy_->maxBinaryMessageSize;
}

// ---------------------------------------------------------------------------------------
// Memory budgets (Server::setWebSocketMemoryLimits)

namespace {
void requestEnforcement(const std::shared_ptr<ServerState>& server, bool send)
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
    const std::size_t now = messageOpcode_ != 0 ? message_.capacity() : 0;
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

void WsConnection::enforceBudget(const std::shared_ptr<ServerState>& server, bool send)
{
    auto& budget = send ? server->sendBudget : server->receiveBudget;
    struct Holder {
        std::size_t bytes;
        std::shared_ptr<WsConnection> connection;
    };
    std::vector<Holder> holders;
    std::size_t beingShed = 0;  // held by sessions chosen before, not yet released
    // Every session is in the sweeper's list; the lock keeps each one intact while it is
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
    if (!send) {
        dropMessage();
        fail(CloseStatus::MessageTooBig, Errc::MemoryBudgetExceeded, "server receive budget exceeded");
        flush();
        return;
    }
    // Discard what is queued: freeing it is the point, and a close frame behind it would
    // wait for the very reader that is not reading. A batch already being written stays
    // (it cannot be cut mid-frame) until the socket takes it or is closed.
    auto dropped = discardQueue();
    open_.store(false, std::memory_order_release);
    constexpr std::string_view reason = "server send budget exceeded";
    reportError(make_error_code(Errc::MemoryBudgetExceeded), std::string(reason));
    completeSends(dropped, make_error_code(Errc::SessionClosed));
    if (writing_ || closeSent_) {
        // A write is stuck behind the peer (or our close frame was among what was
        // discarded): no close frame can reach it in time, so the TCP connection closes.
        teardown(CloseStatus::PolicyViolation, reason);
        return;
    }
    readStopped_ = true;
    closeAfterWrite_ = true;  // the reader is not reading: do not wait for its answer
    closeStatus_ = CloseStatus::PolicyViolation;
    closeReason_ = std::string(reason);
    queueClose(closeStatus_, closeReason_);
    flush();
}

std::vector<SendCallback> WsConnection::discardQueue()
{
    std::vector<SendCallback> callbacks;
    std::lock_guard lock(outMutex_);
    outClosed_ = true;
    callbacks.swap(outCallbacks_);
    accountQueued(-static_cast<std::ptrdiff_t>(outBytes_));
    outBytes_ = 0;
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

void WsConnection::dropMessage()
{
    std::string().swap(message_);
    inflater_.reset();
    messageOpcode_ = 0;
    discard_ = true;  // the rest of this message, if any, is read and dropped
    accountReceived();
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
    lastActivity_ = Clock::now();
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
    if (ec) {
        if (!finished_ && ec != net::error::operation_aborted && !closeSent_)
            reportError(static_cast<std::error_code>(ec), "write failed: " + ec.message());
        teardown(closeSent_ ? closeStatus_ : CloseStatus::Abnormal, closeSent_ ? closeReason_ : ec.message());
        return false;
    }
    if (wroteClose) {
        closeWritten_ = true;
        if (closeAfterWrite_ || closeReceived_) {
            teardown(closeStatus_, closeReason_);
            return false;
        }
    }
    return true;
}

}  // namespace wharf::detail
