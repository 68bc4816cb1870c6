#pragma once
// The outcome of one non-blocking transport call (detail/Transport.hpp), shared by the
// transports and what they are built on (tls/TlsStream.hpp).

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>

namespace wharf::detail {

/// What a transport call waits for before it can go on: Nothing (call again now), or an
/// edge of the socket's readability or writability.
enum class IoWant : std::uint8_t { Nothing, Read, Write };

/// Bytes (with `want` what to wait for before the next call), or an error
/// (boost::asio::error::eof: the peer's end, with or without TLS close_notify).
struct IoResult {
    std::size_t bytes = 0;
    IoWant want = IoWant::Nothing;
    boost::system::error_code ec;
};

}  // namespace wharf::detail
