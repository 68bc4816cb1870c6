#pragma once
// permessage-deflate (RFC 7692) from the client's side: the offer a client sends in
// Sec-WebSocket-Extensions, and the check of the server's answer. (The server's side,
// answering offers, is negotiateDeflate in detail/Deflate.hpp.) Both sides end with the
// same DeflateParams; deflaterFor / inflaterResets read them for either role.

#include "detail/Deflate.hpp"
#include "protocol/Role.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::detail {

/// What a client offers (RFC 7692 7.1).
struct DeflateOffer {
    /// client_no_context_takeover: we promise to compress every message afresh.
    bool clientNoContextTakeover = false;
    /// server_no_context_takeover: we ask the server to compress every message afresh.
    bool serverNoContextTakeover = false;
    /// client_max_window_bits: we can use a smaller window if the server asks for one.
    bool offerClientMaxWindowBits = true;
    /// Our compressor's window, 9..15 (zlib cannot make an 8-bit raw deflate window);
    /// below 15 it is sent as client_max_window_bits' value.
    int clientMaxWindowBits = 15;
    /// Below 15 (8..14): server_max_window_bits, asking the server for at most this window.
    int serverMaxWindowBits = 15;
    int memLevel = 8;  ///< our compressor's zlib memLevel
};

/// The Sec-WebSocket-Extensions value for `offer`, e.g.
/// "permessage-deflate; client_max_window_bits".
std::string buildDeflateOffer(const DeflateOffer& offer);

/// The server's answer, checked.
struct DeflateAnswer {
    std::optional<DeflateParams> params;  ///< set when the server accepted the offer
    std::string error;                    ///< set when the client must fail the connection
};

/// Checks the Sec-WebSocket-Extensions values of the server's 101 against `offer`.
/// No permessage-deflate: accepted without compression. The connection must fail
/// (error set) when the answer names an extension we did not offer or permessage-deflate
/// twice (RFC 6455 9.1), or when its parameters break RFC 7692 7.1: an unknown or repeated
/// parameter, a value where none belongs or none where one must be, client_max_window_bits
/// when we did not offer it, a window outside 8..15, a server window larger than the one we
/// asked for (or none when we asked for one), or a client window we cannot honour (8, or
/// larger than ours).
DeflateAnswer checkDeflateAnswer(const std::vector<std::string_view>& headerValues, const DeflateOffer& offer);

/// Our compressor for `role` (server: server_* parameters; client: client_*).
std::unique_ptr<Deflater> deflaterFor(const DeflateParams& params, Role role);

/// Whether our inflater starts afresh after each message: the peer's no_context_takeover.
constexpr bool inflaterResets(const DeflateParams& params, Role role) noexcept
{
    return role == Role::Server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
}

}  // namespace wharf::detail
