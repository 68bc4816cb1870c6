// CloseState: RFC 6455 section 7 closing handshake per role (see CloseState.hpp).
#include "protocol/CloseState.hpp"

#include "detail/Frame.hpp"
#include "detail/Utf8.hpp"

#include <fmt/format.h>

namespace wharf::detail {

std::optional<ProtocolFailure> parseClosePayload(std::string_view payload, ReceivedClose& out)
{
    out = ReceivedClose{};
    if (payload.empty()) return std::nullopt;
    // RFC 6455 5.5.1: a body starts with a 2-byte code; one byte cannot be one.
    if (payload.size() == 1)
        return ProtocolFailure{CloseStatus::ProtocolError, Errc::ProtocolError, "close frame with a 1-byte payload"};
    const auto code = static_cast<std::uint16_t>((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
    if (!isValidWireCloseCode(code))
        return ProtocolFailure{CloseStatus::ProtocolError, Errc::ProtocolError, fmt::format("invalid close code {}", code)};
    const auto reason = payload.substr(2);
    if (!isValidUtf8(reason))
        return ProtocolFailure{CloseStatus::InvalidPayload, Errc::InvalidUtf8, "close reason is not valid UTF-8"};
    out.status = static_cast<CloseStatus>(code);
    out.reason = reason;
    return std::nullopt;
}

std::string clampCloseReason(std::string_view reason)
{
    if (reason.size() > maxControlPayload - 2) {
        reason = reason.substr(0, maxControlPayload - 2);
        // Cut back to a code-point boundary (at most 3 bytes of an unfinished one).
        Utf8Validator v;
        if (v.feed(reason)) reason.remove_suffix(v.pendingBytes());
    }
    return isValidUtf8(reason) ? std::string(reason) : std::string();
}

std::string CloseState::closePayload() const
{
    std::string payload;
    if (sent_ == CloseStatus::NoStatus) return payload;
    const auto code = static_cast<std::uint16_t>(sent_);
    payload.reserve(2 + sentReason_.size());
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload.append(sentReason_);
    return payload;
}

CloseState::Actions CloseState::finish()
{
    phase_ = Phase::Closed;
    Actions a;
    a.finish = true;
    return a;
}

CloseState::Actions CloseState::afterHandshake()
{
    // RFC 6455 7.1.1: the server closes TCP first; the client waits for it (bounded by the
    // close timeout, after which it may close itself).
    if (role_ == Role::Server) return finish();
    phase_ = Phase::AwaitingTcpClose;
    Actions a;
    a.armTimer = true;
    return a;
}

CloseState::Actions CloseState::close(CloseStatus status, std::string_view reason)
{
    if (phase_ != Phase::Open) return {};
    const auto code = static_cast<std::uint16_t>(status);
    if (status != CloseStatus::NoStatus && !isValidWireCloseCode(code)) status = CloseStatus::InternalError;
    sent_ = status;
    sentReason_ = status == CloseStatus::NoStatus ? std::string() : clampCloseReason(reason);
    status_ = status;
    reason_ = sentReason_;
    phase_ = Phase::CloseSent;
    Actions a;
    a.sendClose = true;
    a.armTimer = true;
    return a;
}

CloseState::Actions CloseState::fail(const ProtocolFailure& failure)
{
    switch (phase_) {
    case Phase::Open: {
        auto a = close(failure.status, failure.reason);
        failing_ = true;
        error_ = failure.error;
        return a;
    }
    case Phase::CloseSent:
        // Our close frame is already queued: no second one. Stop parsing; the server
        // closes TCP as soon as that frame is out.
        failing_ = true;
        if (!error_) error_ = failure.error;
        if (closeWritten_ && role_ == Role::Server) return finish();
        if (closeWritten_) phase_ = Phase::AwaitingTcpClose;
        return {};
    default: return {};
    }
}

CloseState::Actions CloseState::receivedClose(std::string_view payload)
{
    if (phase_ != Phase::Open && !(phase_ == Phase::CloseSent && !failing_)) return {};
    ReceivedClose peer;
    if (auto failure = parseClosePayload(payload, peer)) return fail(*failure);
    closeReceived_ = true;
    if (phase_ == Phase::Open) {
        // RFC 6455 5.5.1: answer with a close frame, "typically echoing the status code it
        // received"; report the peer's code and reason.
        status_ = peer.status;
        reason_ = std::string(peer.reason);
        sent_ = peer.status;
        sentReason_.clear();
        phase_ = Phase::CloseReceived;
        Actions a;
        a.sendClose = true;
        return a;
    }
    // We closed first: the handshake completes once our frame is out too.
    return closeWritten_ ? afterHandshake() : Actions{};
}

CloseState::Actions CloseState::closeWritten()
{
    if (closeWritten_) return {};
    closeWritten_ = true;
    switch (phase_) {
    case Phase::CloseSent:
        if (closeReceived_) return afterHandshake();
        if (!failing_) return {};  // wait for the peer's close (the timer runs)
        // Failing: the server closes TCP now; the client waits for the server's TCP close.
        if (role_ == Role::Server) return finish();
        phase_ = Phase::AwaitingTcpClose;
        return {};
    case Phase::CloseReceived: return afterHandshake();
    default: return {};
    }
}

CloseState::Actions CloseState::transportClosed()
{
    switch (phase_) {
    case Phase::Closed: return {};
    case Phase::Open:
        // RFC 6455 7.1.5: no close frame was received: 1006.
        status_ = CloseStatus::Abnormal;
        reason_ = "connection closed without a close frame";
        return finish();
    default:
        // During the handshake the code already decided stands (ours if we closed first,
        // the peer's if it did).
        return finish();
    }
}

CloseState::Actions CloseState::timeout()
{
    switch (phase_) {
    case Phase::Open:
    case Phase::Closed: return {};
    case Phase::CloseSent:
        if (!closeReceived_ && !error_) error_ = Errc::CloseTimeout;
        return finish();
    default: return finish();
    }
}

CloseState::Actions CloseState::abort(CloseStatus status, std::string_view reason)
{
    if (phase_ == Phase::Closed) return {};
    status_ = status;
    reason_ = std::string(reason);
    return finish();
}

}  // namespace wharf::detail
