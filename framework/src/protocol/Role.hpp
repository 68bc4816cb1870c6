#pragma once
// The protocol core's shared vocabulary: which end of the connection we are (RFC 6455
// treats client and server differently: masking, who closes TCP first, which deflate
// parameters apply to whom) and the failure every part reports the same way.
//
// The protocol core (framework/src/protocol/) is sans-I/O: bytes in, events and bytes
// out. It has no sockets, no asio, no server state; the I/O layer drives it.

#include <wharf/CloseStatus.hpp>
#include <wharf/Error.hpp>

#include <cstdint>
#include <limits>
#include <string>

namespace wharf::detail {

/// Which end of a WebSocket connection this side is.
enum class Role : std::uint8_t { Server, Client };

/// Why the connection must be failed (RFC 6455 7.1.7): the close code to send, the error
/// to report, and a sentence for logs and the close frame's reason.
struct ProtocolFailure {
    CloseStatus status = CloseStatus::ProtocolError;
    Errc error = Errc::ProtocolError;
    std::string reason;
};

/// A bound on compressed (RSV1) data: deflate can expand incompressible data a little
/// (RFC 1951 stored blocks: 5 bytes per 64 KiB), so the wire may carry slightly more than
/// the inflated limit. Saturates instead of wrapping for "unlimited" (SIZE_MAX) limits.
constexpr std::uint64_t withDeflateSlack(std::uint64_t limit) noexcept
{
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t slack = limit / 64 + 64;
    return limit > max - slack ? max : limit + slack;
}

}  // namespace wharf::detail
