#pragma once
// RFC 6455 section 5 framing: opcodes, header encoding, masking.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "detail/SmallMutex.hpp"
#include <string>
#include <string_view>

namespace wharf::detail {

enum class Opcode : std::uint8_t {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

inline constexpr bool isControl(std::uint8_t opcode) noexcept { return opcode & 0x8; }
inline constexpr bool isKnownOpcode(std::uint8_t op) noexcept { return op <= 2 || (op >= 8 && op <= 10); }
inline constexpr std::size_t maxControlPayload = 125;
inline constexpr std::size_t maxFrameHeader = 14;

/// Appends an unmasked (server-to-client) frame header.
inline void appendFrameHeader(std::string& out, Opcode opcode, std::uint64_t length, bool fin = true,
                              bool rsv1 = false)
{
    char h[10];
    std::size_t n = 2;
    h[0] = static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<std::uint8_t>(opcode));
    if (length < 126) {
        h[1] = static_cast<char>(length);
    } else if (length <= 0xFFFF) {
        h[1] = 126;
        h[2] = static_cast<char>(length >> 8);
        h[3] = static_cast<char>(length);
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<char>(length >> (56 - 8 * i));
        n = 10;
    }
    out.append(h, n);
}

/// Appends a whole unmasked frame.
inline void appendFrame(std::string& out, Opcode opcode, std::string_view payload, bool fin = true,
                        bool rsv1 = false)
{
    appendFrameHeader(out, opcode, payload.size(), fin, rsv1);
    out.append(payload);
}

/// XORs `data` with the 4-byte mask starting at mask offset `offset` (RFC 6455 5.3).
/// Returns the mask offset after the data.
inline std::size_t applyMask(char* data, std::size_t size, const std::uint8_t key[4], std::size_t offset) noexcept
{
    std::uint8_t k[4];
    for (int i = 0; i < 4; ++i) k[i] = key[(offset + i) & 3];
    std::size_t i = 0;
    std::uint64_t k8;
    std::uint8_t kb[8] = {k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]};
    std::memcpy(&k8, kb, 8);
    for (; i + 8 <= size; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + i, 8);
        w ^= k8;
        std::memcpy(data + i, &w, 8);
    }
    for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ k[i & 3]);
    return (offset + size) & 3;
}

/// A complete server frame built once and shared by every session it is sent to.
struct PreparedFrame {
    std::string bytes;        ///< header + payload
    std::size_t headerSize = 0;
    bool text = false;

    std::string_view payload() const noexcept { return std::string_view(bytes).substr(headerSize); }

    /// The frame compressed (permessage-deflate, without context) for one parameter class
    /// of sessions, made by the first session of that class that sends it and shared by the
    /// rest (WsConnection::queueShared).
    struct Compressed {
        int windowBits;
        int memLevel;
        std::shared_ptr<const PreparedFrame> frame;
    };
    mutable SmallMutex compressedMutex;
    mutable std::vector<Compressed> compressed;
};

}  // namespace wharf::detail
