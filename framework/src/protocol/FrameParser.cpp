// FrameParser: RFC 6455 section 5 framing for either role (see FrameParser.hpp).
#include "protocol/FrameParser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace wharf::detail {
namespace {

/// Header size decided by the second byte: 2, plus 2 or 8 length bytes, plus 4 of mask.
constexpr std::size_t headerSize(std::uint8_t b1) noexcept
{
    const std::uint8_t len7 = b1 & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
}

}  // namespace

FrameParser::Event FrameParser::fail(CloseStatus status, Errc error, std::string reason)
{
    state_ = State::Failed;
    failure_ = std::make_unique<ProtocolFailure>(ProtocolFailure{status, error, std::move(reason)});
    chunk_ = {};
    return Event::Failed;
}

const ProtocolFailure& FrameParser::failure() const noexcept
{
    static const ProtocolFailure none{};
    return failure_ ? *failure_ : none;
}

FrameParser::Event FrameParser::next(char*& p, char* const end)
{
    if (state_ == State::Payload) return payload(p, end);
    if (state_ == State::Failed) return Event::Failed;

    const std::uint8_t* h;
    if (have_ == 0 && end - p >= 2) {
        // Usual case: the header starts in this buffer.
        const auto* u = reinterpret_cast<const std::uint8_t*>(p);
        if (!checkStart(u[0], u[1])) return Event::Failed;
        const std::size_t size = headerSize(u[1]);
        if (static_cast<std::size_t>(end - p) < size) {
            // Keep the beginning for the next read (at most 13 bytes).
            have_ = static_cast<std::uint8_t>(end - p);
            std::memcpy(headerBytes_, p, have_);
            p = end;
            return Event::NeedMore;
        }
        h = u;
        p += size;
    } else {
        // The header straddles reads: collect it.
        if (have_ < 2) {
            while (p < end && have_ < 2) headerBytes_[have_++] = static_cast<std::uint8_t>(*p++);
            if (have_ < 2) return Event::NeedMore;
            // Fail fast on what two bytes decide (an unmasked frame does not wait for more).
            if (!checkStart(headerBytes_[0], headerBytes_[1])) return Event::Failed;
        }
        const std::size_t want = headerSize(headerBytes_[1]);
        const std::size_t take = std::min<std::size_t>(want - have_, static_cast<std::size_t>(end - p));
        std::memcpy(headerBytes_ + have_, p, take);
        have_ = static_cast<std::uint8_t>(have_ + take);
        p += take;
        if (have_ < want) return Event::NeedMore;
        have_ = 0;
        h = headerBytes_;
    }
    return decode(h);
}

bool FrameParser::checkStart(std::uint8_t b0, std::uint8_t b1)
{
    const bool fin = b0 & 0x80;
    const std::uint8_t op = b0 & 0x0F;
    const bool masked = b1 & 0x80;
    // RFC 6455 5.1: a server MUST close on an unmasked frame, a client on a masked one.
    if (role_ == Role::Server && !masked)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "client frames must be masked"), false;
    if (role_ == Role::Client && masked)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "server frames must not be masked"), false;
    if (b0 & 0x30)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV2/RSV3 set without a negotiated extension"), false;
    if (!isKnownOpcode(op))
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, fmt::format("reserved opcode {:#x}", op)), false;
    const bool rsv1 = b0 & 0x40;
    if (isControl(op)) {
        if (!fin) return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "fragmented control frame"), false;
        if ((b1 & 0x7F) > maxControlPayload)
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "control frame payload over 125 bytes"), false;
        if (rsv1) return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV1 set on a control frame"), false;
        return true;
    }
    if (op == static_cast<std::uint8_t>(Opcode::Continuation)) {
        if (!fragmented_)
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "continuation frame without a message"), false;
        // RFC 7692 6.1: RSV1 marks a compressed message on its first frame only.
        if (rsv1) return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV1 set on a continuation frame"), false;
        return true;
    }
    if (fragmented_)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "new data frame inside a fragmented message"), false;
    if (rsv1 && !allowRsv1_)
        return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "RSV1 set without permessage-deflate"), false;
    return true;
}

FrameParser::Event FrameParser::decode(const std::uint8_t* h)
{
    const std::uint8_t len7 = h[1] & 0x7F;
    std::uint64_t length = len7;
    std::size_t at = 2;
    if (len7 == 126) {
        length = (std::uint64_t(h[2]) << 8) | h[3];
        at = 4;
        // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
        if (length < 126)
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError,
                        fmt::format("length {} in the 16-bit form (not minimal)", length));
    } else if (len7 == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | h[2 + i];
        at = 10;
        // RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0.
        if (length >> 63)
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError, "64-bit payload length with the top bit set");
        if (length <= 0xFFFF)
            return fail(CloseStatus::ProtocolError, Errc::ProtocolError,
                        fmt::format("length {} in the 64-bit form (not minimal)", length));
    }
    const auto op = static_cast<Opcode>(h[0] & 0x0F);
    const bool fin = h[0] & 0x80;
    const bool rsv1 = h[0] & 0x40;
    if (!isControl(static_cast<std::uint8_t>(op))) {
        const bool compressed = op == Opcode::Continuation ? messageCompressed_ : rsv1;
        const std::uint64_t limit = compressed ? withDeflateSlack(maxFrameSize_) : maxFrameSize_;
        if (length > limit)
            return fail(CloseStatus::MessageTooBig, Errc::MessageTooBig,
                        fmt::format("frame of {} bytes exceeds the limit of {}", length, maxFrameSize_));
        if (op != Opcode::Continuation) {
            messageOpcode_ = op;
            messageCompressed_ = rsv1;
        }
        fragmented_ = !fin;
    }
    masked_ = h[1] & 0x80;
    if (masked_) std::memcpy(mask_, h + at, 4);
    maskOffset_ = 0;
    header_ = FrameHeader{op, fin, rsv1, length};
    remaining_ = length;
    chunk_ = {};
    state_ = State::Payload;
    return Event::Header;
}

FrameParser::Event FrameParser::payload(char*& p, char* const end) noexcept
{
    const std::size_t available = static_cast<std::size_t>(end - p);
    if (remaining_ > 0 && available == 0) return Event::NeedMore;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, available));
    if (masked_) maskOffset_ = static_cast<std::uint8_t>(applyMask(p, n, mask_, maskOffset_));
    chunk_ = std::string_view(p, n);
    p += n;
    remaining_ -= n;
    if (remaining_ == 0) state_ = State::Header;
    return Event::Payload;
}

}  // namespace wharf::detail
