// FrameWriter and client mask keys (see FrameWriter.hpp).
#include "protocol/FrameWriter.hpp"

#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace wharf::detail {
namespace {

// Bumped in a child after fork(): the child must not reuse keys its parent still holds.
std::atomic<unsigned> forkGeneration{0};

void afterForkInChild() { forkGeneration.fetch_add(1, std::memory_order_relaxed); }

/// 256 keys per refill: one RAND_bytes call (about a microsecond) per 256 frames.
struct KeyPool {
    static constexpr std::size_t size = 1024;
    std::size_t used = size;  // empty until first use
    unsigned generation = 0;
    unsigned char bytes[size];
};

thread_local KeyPool pool;

}  // namespace

MaskKey nextMaskKey()
{
    static const bool registered = [] {
        pthread_atfork(nullptr, nullptr, &afterForkInChild);
        return true;
    }();
    (void)registered;
    auto& p = pool;
    const unsigned generation = forkGeneration.load(std::memory_order_relaxed);
    if (p.used + 4 > KeyPool::size || p.generation != generation) {
        // RFC 6455 10.3: keys must be unpredictable; RAND_bytes is OpenSSL's DRBG, seeded
        // (and reseeded) from the operating system.
        if (RAND_bytes(p.bytes, static_cast<int>(KeyPool::size)) != 1)
            throw std::runtime_error("RAND_bytes failed: no random bytes for WebSocket mask keys");
        p.used = 0;
        p.generation = generation;
    }
    MaskKey key;
    std::memcpy(key.data(), p.bytes + p.used, 4);
    p.used += 4;
    return key;
}

void copyMasked(char* dst, const char* src, std::size_t size, const MaskKey& key) noexcept
{
    std::uint64_t k8;
    const std::uint8_t kb[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    std::memcpy(&k8, kb, 8);
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, src + i, 8);
        w ^= k8;
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < size; ++i) dst[i] = static_cast<char>(src[i] ^ key[i & 3]);
}

std::size_t FrameWriter::writeHeader(char* out, Opcode opcode, std::uint64_t length, bool fin, bool rsv1,
                                     MaskKey& key) const
{
    auto* h = reinterpret_cast<unsigned char*>(out);
    const unsigned char maskBit = role_ == Role::Client ? 0x80 : 0;
    h[0] = static_cast<unsigned char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<std::uint8_t>(opcode));
    std::size_t n;
    // RFC 6455 5.2: the length in the minimal number of bytes.
    if (length < 126) {
        h[1] = static_cast<unsigned char>(maskBit | length);
        n = 2;
    } else if (length <= 0xFFFF) {
        h[1] = maskBit | 126;
        h[2] = static_cast<unsigned char>(length >> 8);
        h[3] = static_cast<unsigned char>(length);
        n = 4;
    } else {
        h[1] = maskBit | 127;
        for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<unsigned char>(length >> (56 - 8 * i));
        n = 10;
    }
    if (role_ == Role::Client) {
        key = nextMaskKey();
        std::memcpy(h + n, key.data(), 4);
        n += 4;
    }
    return n;
}

std::size_t FrameWriter::writeFrame(char* out, Opcode opcode, std::string_view payload, bool fin, bool rsv1) const
{
    MaskKey key{};
    const std::size_t header = writeHeader(out, opcode, payload.size(), fin, rsv1, key);
    if (role_ == Role::Client) copyMasked(out + header, payload.data(), payload.size(), key);
    else if (!payload.empty()) std::memcpy(out + header, payload.data(), payload.size());
    return header + payload.size();
}

void FrameWriter::appendFrame(std::string& out, Opcode opcode, std::string_view payload, bool fin, bool rsv1) const
{
    const std::size_t at = out.size();
    out.resize(at + headerSize(payload.size()) + payload.size());
    writeFrame(out.data() + at, opcode, payload, fin, rsv1);
}

}  // namespace wharf::detail
