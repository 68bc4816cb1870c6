#pragma once
// WebSocket close status codes (RFC 6455 section 7.4).

#include <cstdint>
#include <string_view>

namespace wharf {

/// A close status code. Named values are those of RFC 6455 7.4.1 and the IANA
/// registry; any other code in 3000-4999 may be used with static_cast.
enum class CloseStatus : std::uint16_t {
    Normal = 1000,              ///< the purpose of the connection was fulfilled
    GoingAway = 1001,           ///< server shutting down, idle timeout, page navigated away
    ProtocolError = 1002,       ///< the peer broke RFC 6455
    UnsupportedData = 1003,     ///< a message type the endpoint cannot accept
    NoStatus = 1005,            ///< reported only: the close frame carried no code
    Abnormal = 1006,            ///< reported only: the connection dropped without a close frame
    InvalidPayload = 1007,      ///< text that is not UTF-8, or an undecodable compressed message
    PolicyViolation = 1008,     ///< generic refusal
    MessageTooBig = 1009,       ///< a message or frame above the configured limit
    MandatoryExtension = 1010,  ///< sent by clients only
    InternalError = 1011,       ///< the server failed (for example a listener threw)
    ServiceRestart = 1012,
    TryAgainLater = 1013,
    TlsHandshakeFailed = 1015,  ///< reported only
};

/// The RFC name of a status ("Normal", "GoingAway", ...) or "Application" / "Unknown".
std::string_view closeStatusName(CloseStatus status) noexcept;

/// True when `code` may appear in a close frame on the wire (RFC 6455 7.4).
constexpr bool isValidWireCloseCode(std::uint16_t code) noexcept
{
    if (code >= 3000 && code <= 4999) return true;
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

}  // namespace wharf
