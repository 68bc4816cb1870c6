#pragma once
// The closing handshake of RFC 6455 section 7 for either role, as a state machine that
// tells the I/O layer what to do: send our close frame, arm the close timeout, close the
// transport and report the end. It holds no socket and no timer.
//
// RFC 6455 7.1.1: "the underlying TCP connection, in most normal cases, SHOULD be closed
// first by the server, so that it holds the TIME_WAIT state and not the client". So once
// both close frames are exchanged (or the server fails the connection and its close frame
// is out), the server closes TCP; the client waits for the server's TCP close, and closes
// itself only when the close timeout passes.
//
//   phase          event                         next              actions
//   Open           close(code)                   CloseSent         sendClose, armTimer
//   Open           fail(failure)                 CloseSent*        sendClose, armTimer
//   Open           receivedClose(valid)          CloseReceived     sendClose (echo the code)
//   Open           receivedClose(invalid)        = fail(1002/1007)
//   CloseSent      receivedClose, ours written   server: Closed    finish
//                                                client: AwaitingTcpClose  armTimer
//   CloseSent      receivedClose, ours queued    CloseSent         (decided at closeWritten)
//   CloseSent*     closeWritten                  server: Closed    finish
//                                                client: AwaitingTcpClose
//   CloseReceived  closeWritten                  server: Closed    finish
//                                                client: AwaitingTcpClose  armTimer
//   any but Closed transportClosed               Closed            finish
//   any but Open   timeout                       Closed            finish
//   any            abort(code)                   Closed            finish
//   (* failing: nothing after the failure is parsed; the server closes TCP once its
//    close frame is out, without waiting for the peer's.)

#include "protocol/Role.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::detail {

/// A close frame's payload, decoded.
struct ReceivedClose {
    CloseStatus status = CloseStatus::NoStatus;  ///< NoStatus (1005) for an empty payload
    std::string_view reason;                     ///< points into the payload
};

/// Checks and decodes the peer's close payload (RFC 6455 5.5.1, 7.4): empty is NoStatus;
/// one byte, or a code that may not appear on the wire (1004-1006, 1015, below 1000, 1016
/// to 2999, 5000 and up), fails with 1002; a reason that is not UTF-8 fails with 1007.
std::optional<ProtocolFailure> parseClosePayload(std::string_view payload, ReceivedClose& out);

/// Cuts `reason` to what fits a close frame next to its code (123 bytes), back to a
/// code-point boundary; a reason that is not valid UTF-8 becomes empty.
std::string clampCloseReason(std::string_view reason);

/// One connection's closing handshake (RFC 6455 7.1.1-7.1.5 and 7.1.7).
/// Thread-safety: Distinct objects: Safe. Shared objects: Unsafe (the connection's thread).
class CloseState {
public:
    enum class Phase : std::uint8_t {
        Open,              ///< data flows both ways
        CloseSent,         ///< our close frame is queued or written; waiting for the peer's
        CloseReceived,     ///< the peer closed first; our answer is queued
        AwaitingTcpClose,  ///< client: the handshake is over (or failed); the server closes TCP
        Closed,            ///< over: status(), reason() and error() say how
    };

    /// What the I/O layer does after a call, in this order.
    struct Actions {
        bool sendClose = false;  ///< queue a close frame with closePayload() after what is
                                 ///< queued, then call closeWritten() once it is written
        bool armTimer = false;   ///< (re)start the close timeout; on expiry call timeout()
        bool finish = false;     ///< close the transport now and report the end (once)
    };

    explicit CloseState(Role role) noexcept : role_(role) {}

    /// We close (Session::close, idle timeout, server stop). A code that may not be sent
    /// (RFC 6455 7.4.1: 1005, 1006, 1015, out of range) becomes 1011; NoStatus sends an
    /// empty payload. Only in Open; later calls do nothing.
    Actions close(CloseStatus status, std::string_view reason);
    /// The peer broke the protocol (RFC 6455 7.1.7): send a close with failure.status
    /// unless ours is already out, and stop parsing.
    Actions fail(const ProtocolFailure& failure);
    /// The peer's close frame, raw. An invalid payload fails the connection.
    Actions receivedClose(std::string_view payload);
    /// Our close frame has been written to the transport.
    Actions closeWritten();
    /// The transport ended (EOF, reset, a read or write error).
    Actions transportClosed();
    /// The close timeout passed.
    Actions timeout();
    /// Ends at once without a handshake (disconnect, forced stop): `status` is reported.
    Actions abort(CloseStatus status, std::string_view reason);

    Phase phase() const noexcept { return phase_; }
    Role role() const noexcept { return role_; }
    /// Data may be sent (no close frame queued yet).
    bool canSend() const noexcept { return phase_ == Phase::Open; }
    /// Frames are still parsed: Open, or waiting for the peer's close frame. Otherwise a
    /// client reads only to see the server's TCP close and drops what it reads.
    bool parsing() const noexcept { return phase_ == Phase::Open || (phase_ == Phase::CloseSent && !failing_); }
    /// Data messages are delivered (after our close frame they are dropped).
    bool deliversData() const noexcept { return phase_ == Phase::Open; }
    /// The peer's close frame has arrived (it sends nothing after it, RFC 6455 5.5.1).
    bool closeReceived() const noexcept { return closeReceived_; }
    /// Both close frames were exchanged.
    bool handshakeDone() const noexcept { return closeWritten_ && closeReceived_; }

    /// The payload of the close frame to send (sendClose): code and reason, or empty.
    std::string closePayload() const;
    /// The code and reason reported at the end: ours when we closed or failed first, the
    /// peer's when it closed first, 1006 when the transport ended without a close frame.
    CloseStatus status() const noexcept { return status_; }
    const std::string& reason() const noexcept { return reason_; }
    /// Why it ended badly: the failure's Errc, or CloseTimeout when the peer never
    /// answered our close frame.
    std::optional<Errc> error() const noexcept { return error_; }

private:
    Actions afterHandshake();
    Actions finish();

    Role role_;
    Phase phase_ = Phase::Open;
    bool failing_ = false;
    bool closeWritten_ = false;
    bool closeReceived_ = false;
    CloseStatus status_ = CloseStatus::Abnormal;
    CloseStatus sent_ = CloseStatus::NoStatus;  // the code in our close frame
    std::optional<Errc> error_;
    std::string reason_;
    std::string sentReason_;
};

}  // namespace wharf::detail
