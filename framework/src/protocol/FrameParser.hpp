#pragma once
// RFC 6455 section 5 frame parsing for either role, over bytes that arrive in any split.
//
// The parser walks the caller's buffer in place: it decodes headers, checks every
// frame-level rule from the header alone (before any payload is buffered), unmasks
// payload in place and hands payload back as views into the caller's buffer. It never
// allocates on the data path and copies only header bytes that straddle two reads.
//
//   FrameParser parser(Role::Server, maxFrameSize);
//   char* p = buf; char* end = buf + n;            // mutable: unmasked in place
//   for (;;) switch (parser.next(p, end)) {
//   case FrameParser::Event::NeedMore: return;     // everything up to `end` is consumed
//   case FrameParser::Event::Header: ...           // header(): opcode, fin, rsv1, length
//   case FrameParser::Event::Payload: ...          // chunk(), frameEnd(), wholeFrame()
//   case FrameParser::Event::Failed: ...           // failure(): close code, Errc, reason
//   }

#include "detail/Frame.hpp"
#include "protocol/Role.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace wharf::detail {

/// One frame's header, as decoded.
struct FrameHeader {
    Opcode opcode = Opcode::Continuation;
    bool fin = false;
    bool rsv1 = false;
    std::uint64_t length = 0;
};

/// Decodes frames of the peer of `role`: a server parses client frames, which MUST be
/// masked; a client parses server frames, which MUST NOT be (RFC 6455 5.1).
///
/// Every frame yields one Header event, then one or more Payload events whose last has
/// frameEnd() (a frame with an empty payload yields one empty Payload event), so the
/// consumer sees the end of every frame. The frame-level rules checked:
/// - masking per role (5.1); RSV1 only when an extension allows it, RSV2/RSV3 never (5.2);
/// - reserved opcodes (5.2); control frames fragmented or over 125 bytes (5.5);
/// - the length in its minimal form (5.2: 126 only for 126..65535, 127 only above) and a
///   64-bit length with the most significant bit clear;
/// - fragment sequencing (5.4): a continuation needs a message in progress, a new data
///   frame must not start inside one; RSV1 only on a message's first frame (RFC 7692 6);
/// - a data frame over the frame limit fails with 1009 from its header, before any of its
///   payload is taken (the limit grows by withDeflateSlack for a compressed message).
/// After a failure the parser stays failed and consumes nothing more.
///
/// Thread-safety: Distinct objects: Safe. Shared objects: Unsafe.
class FrameParser {
public:
    enum class Event : std::uint8_t {
        NeedMore,  ///< every byte up to `end` is consumed; call again with more input
        Header,    ///< a frame header was decoded: header()
        Payload,   ///< chunk() holds payload, unmasked in place; frameEnd() ends the frame
        Failed,    ///< the peer broke the protocol: failure()
    };

    /// `maxFrameSize` bounds data frames (control frames are bounded at 125 bytes).
    /// `allowRsv1`: permessage-deflate was negotiated.
    FrameParser(Role role, std::uint64_t maxFrameSize, bool allowRsv1 = false) noexcept
        : role_(role), allowRsv1_(allowRsv1), maxFrameSize_(maxFrameSize)
    {
    }

    /// Consumes bytes from `p` (advanced past what was used) up to `end` and returns the
    /// next event. Payload bytes in [p, end) are unmasked in place, so the buffer must be
    /// writable and must stay put while chunk() is used.
    Event next(char*& p, char* end);

    /// The frame being parsed (valid from its Header event to the next Header).
    const FrameHeader& header() const noexcept { return header_; }
    /// Payload event: the bytes, unmasked, inside the caller's buffer.
    std::string_view chunk() const noexcept { return chunk_; }
    /// Payload event: the chunk ends its frame.
    bool frameEnd() const noexcept { return remaining_ == 0; }
    /// Payload event: the chunk is the frame's whole payload (it arrived in one buffer).
    bool wholeFrame() const noexcept { return chunk_.size() == header_.length; }
    /// The opcode of the data message the current data frame belongs to (Text or Binary,
    /// also for its continuation frames).
    Opcode messageOpcode() const noexcept { return messageOpcode_; }
    /// The current data message's first frame had RSV1 (it is compressed).
    bool messageCompressed() const noexcept { return messageCompressed_; }
    /// Failed event: what to close with.
    const ProtocolFailure& failure() const noexcept;
    bool failed() const noexcept { return state_ == State::Failed; }
    /// A data message has begun and not ended: inside a data frame's payload, or between
    /// the frames of a fragmented message.
    bool inDataMessage() const noexcept
    {
        return fragmented_ || (state_ == State::Payload && !isControl(static_cast<std::uint8_t>(header_.opcode)));
    }
    Role role() const noexcept { return role_; }

    void setMaxFrameSize(std::uint64_t bytes) noexcept { maxFrameSize_ = bytes; }
    void setAllowRsv1(bool allow) noexcept { allowRsv1_ = allow; }

private:
    enum class State : std::uint8_t { Header, Payload, Failed };

    /// Checks what the first two header bytes decide; false after fail().
    bool checkStart(std::uint8_t b0, std::uint8_t b1);
    /// Decodes a complete header at `h`; Header or Failed.
    Event decode(const std::uint8_t* h);
    Event payload(char*& p, char* end) noexcept;
    Event fail(CloseStatus status, Errc error, std::string reason);

    Role role_;
    State state_ = State::Header;
    bool allowRsv1_;
    bool fragmented_ = false;  // a data message is unfinished: the next data frame continues it
    bool messageCompressed_ = false;
    bool masked_ = false;
    Opcode messageOpcode_ = Opcode::Continuation;
    std::uint8_t have_ = 0;        // header bytes collected in header_ across reads
    std::uint8_t maskOffset_ = 0;
    std::uint8_t mask_[4] = {};
    std::uint8_t headerBytes_[maxFrameHeader] = {};
    std::uint64_t maxFrameSize_;
    std::uint64_t remaining_ = 0;  // payload bytes of the current frame not yet returned
    FrameHeader header_;
    std::string_view chunk_;
    std::unique_ptr<ProtocolFailure> failure_;  // allocated when failing: idle parsers stay small
};

}  // namespace wharf::detail
