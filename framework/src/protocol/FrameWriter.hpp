#pragma once
// RFC 6455 section 5 frame writing for either role. A server writes unmasked frames; a
// client masks every frame with a fresh, unpredictable 4-byte key (RFC 6455 5.3 and
// 10.3: "derived from a strong source of entropy", so that a script cannot choose the
// bytes an intermediary sees). Keys come from a per-thread pool of random bytes refilled
// in blocks from OpenSSL's RAND_bytes (a DRBG seeded from the OS), so drawing one is a
// load, not a system call.
//
//   FrameWriter writer(Role::Client);
//   writer.appendFrame(out, Opcode::Text, "hello");       // header + masked copy
//   char* at = buf; at += writer.writeFrame(at, Opcode::Binary, payload);  // raw memory

#include "detail/Frame.hpp"
#include "protocol/Role.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::detail {

using MaskKey = std::array<std::uint8_t, 4>;

/// A fresh mask key from this thread's pool of OS-seeded random bytes. Throws
/// std::runtime_error if the random generator fails (it then has no entropy to offer).
/// After fork() the child draws from new bytes, never from the parent's pool.
/// Thread-safety: Safe (each thread has its own pool).
MaskKey nextMaskKey();

/// Copies `size` bytes from `src` to `dst`, XORed with `key` (RFC 6455 5.3), eight bytes
/// at a time. The ranges must not overlap.
void copyMasked(char* dst, const char* src, std::size_t size, const MaskKey& key) noexcept;

/// Writes frames as `role` must (RFC 6455 5.1-5.3).
/// Thread-safety: Distinct objects: Safe. Shared objects: Safe (it has no state but the role).
class FrameWriter {
public:
    explicit FrameWriter(Role role) noexcept : role_(role) {}

    Role role() const noexcept { return role_; }
    /// Bytes of the header for a payload of `length` (2 to 14): the length in its minimal
    /// form (RFC 6455 5.2), plus 4 mask bytes for a client.
    std::size_t headerSize(std::uint64_t length) const noexcept
    {
        return 2 + (length < 126 ? 0 : length <= 0xFFFF ? 2 : 8) + (role_ == Role::Client ? 4 : 0);
    }

    /// Writes a header into `out` (room for headerSize(length), at most maxFrameHeader)
    /// and returns its size. A client draws a fresh key, writes it and stores it in `key`:
    /// the caller masks the payload with it (applyMask or copyMasked from offset 0).
    /// `length` must be below 2^63; a control frame's at most 125 (not checked).
    std::size_t writeHeader(char* out, Opcode opcode, std::uint64_t length, bool fin, bool rsv1,
                            MaskKey& key) const;

    /// Writes a whole frame into `out` (room for headerSize(payload.size()) +
    /// payload.size()): the header, then the payload, masked while copying for a client.
    /// Returns the bytes written.
    std::size_t writeFrame(char* out, Opcode opcode, std::string_view payload, bool fin = true,
                           bool rsv1 = false) const;

    /// Appends a whole frame to `out`.
    void appendFrame(std::string& out, Opcode opcode, std::string_view payload, bool fin = true,
                     bool rsv1 = false) const;

private:
    Role role_;
};

}  // namespace wharf::detail
