#pragma once
// permessage-deflate (RFC 7692): offer negotiation and the zlib streams.

#include <wharf/WebSocketServletFactory.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::detail {

/// What was agreed with the client.
struct DeflateParams {
    bool serverNoContextTakeover = false;
    bool clientNoContextTakeover = false;
    int serverMaxWindowBits = 15;  ///< our compressor's window
    int clientMaxWindowBits = 15;  ///< the client's compressor's window (our inflater copes with any)
    int memLevel = 8;
    std::size_t threshold = 0;
};

struct DeflateNegotiation {
    DeflateParams params;
    std::string responseHeader;  ///< the Sec-WebSocket-Extensions value to answer with
};

/// Picks the first acceptable permessage-deflate offer from the Sec-WebSocket-Extensions
/// values (RFC 7692 5 and 7.1). Offers with unknown, repeated or invalid parameters are
/// declined (the handshake goes on without compression), as is a server_max_window_bits=8
/// that zlib cannot honour.
std::optional<DeflateNegotiation> negotiateDeflate(const std::vector<std::string_view>& headerValues,
                                                   const DeflateOptions& options);

/// Splits an extension header value on `sep` (',' between extensions, ';' between
/// parameters, '=' inside one) outside double quotes; each part is trimmed of spaces/tabs.
std::vector<std::string_view> splitOutsideQuotes(std::string_view s, char sep);

/// A window-bits parameter value (RFC 7692 7.1.2): 8..15, digits only, no leading zero;
/// the quoted form is accepted. nullopt when invalid.
std::optional<int> parseWindowBits(std::string_view v);

/// One direction's zlib state, created on first use.
class Deflater {
public:
    /// The server's compressor (server_max_window_bits, server_no_context_takeover).
    explicit Deflater(const DeflateParams& params);
    /// Any role's: an LZ77 window of 2^windowBits (9..15), zlib's memLevel, and a reset
    /// after every message (our side's no_context_takeover).
    Deflater(int windowBits, int memLevel, bool resetAfterMessage);
    ~Deflater();
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;
    /// Compresses one whole message into `out` (replacing it), without the final
    /// 00 00 FF FF (RFC 7692 7.2.1). False on a zlib failure.
    bool compress(std::string_view message, std::string& out);
    /// Forgets the context: the next message is compressed as if it were the first.
    void reset();
    /// Room for compress()'s output, kept with the compressor (only deflating sessions pay).
    std::string scratch;

private:
    struct Stream;
    std::unique_ptr<Stream> z_;
    bool resetAfterMessage_;
};

class Inflater {
public:
    explicit Inflater(bool resetAfterMessage);
    ~Inflater();
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;
    enum class Result { Ok, TooBig, Error };
    /// Inflates `in` and appends to `out`, stopping with TooBig as soon as `out` would
    /// exceed `limit` bytes (the whole is never held). `finish` marks the message's end.
    Result inflate(std::string_view in, std::string& out, std::size_t limit, bool finish);

private:
    struct Stream;
    std::unique_ptr<Stream> z_;
    bool resetAfterMessage_;
};

}  // namespace wharf::detail
