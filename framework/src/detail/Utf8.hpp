#pragma once
// Incremental UTF-8 validation (RFC 3629) for text messages that arrive in pieces.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wharf::detail {

/// Validates UTF-8 fed in any split. Rejects overlong forms, surrogates (U+D800-DFFF),
/// code points above U+10FFFF and stray continuation bytes as soon as the offending
/// byte is seen (RFC 6455 8.1 asks to fail fast).
class Utf8Validator {
public:
    /// Feeds bytes; false once the input can no longer be valid UTF-8.
    bool feed(std::string_view bytes) noexcept;
    /// True when everything fed so far ends on a code-point boundary.
    bool complete() const noexcept { return need_ == 0; }
    /// Bytes at the end of the input fed so far that start an unfinished code point (0-3).
    std::size_t pendingBytes() const noexcept { return pending_; }
    void reset() noexcept { need_ = 0; pending_ = 0; lower_ = 0x80; upper_ = 0xBF; }

private:
    std::uint8_t need_ = 0;       // continuation bytes still expected
    std::uint8_t pending_ = 0;    // bytes of the unfinished code point seen so far
    std::uint8_t lower_ = 0x80;   // allowed range of the next continuation byte
    std::uint8_t upper_ = 0xBF;
};

/// Validates a whole string.
bool isValidUtf8(std::string_view bytes) noexcept;

}  // namespace wharf::detail
