#pragma once
// RFC 6455 message assembly on top of FrameParser, for either role: message size limits,
// incremental UTF-8 for text (fail fast, 1007), permessage-deflate inflation (RFC 7692)
// with a size limit, control frames, and delivery of whole messages or of fragments.
//
// Sans-I/O: the I/O layer hands in the bytes it read and gets events back, one per call.
//
//   MessageAssembler in(Role::Server, limits, deflateParamsOrNull);
//   for (;;) switch (in.next(p, end)) {
//   case Event::NeedMore: return;                  // read more
//   case Event::Text:   listener.onText(in.data()); break;   // in.last(): message end
//   case Event::Binary: listener.onBinary(in.bytes()); break;
//   case Event::Ping: / Event::Pong: / Event::Close:  in.data() is the payload
//   case Event::Failed: close with in.failure()
//   }
//
// What data() points at is valid until the next call to next(): a whole unfragmented,
// uncompressed frame that arrived in one buffer is handed over as a view into the caller's
// buffer (no copy); everything else comes from the assembler's own buffer, which keeps its
// capacity between messages (up to 64 KiB), so steady traffic allocates nothing.

#include "detail/Deflate.hpp"
#include "detail/Utf8.hpp"
#include "protocol/FrameParser.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace wharf::detail {

/// Size limits on what the peer sends (WebSocketPolicy's values).
struct MessageLimits {
    std::size_t maxTextMessageSize;    ///< inflated size of a text message
    std::size_t maxBinaryMessageSize;  ///< inflated size of a binary message
    std::size_t maxFrameSize;          ///< one data frame on the wire
};

/// Assembles the peer's messages. Rules on top of FrameParser's:
/// - a message's size is bounded on the wire (from each frame header, before the payload
///   is taken; with withDeflateSlack when compressed) and, when compressed, after
///   inflating, as soon as the inflated output would pass the limit: 1009;
/// - text is validated incrementally and fails at the first byte that cannot be UTF-8,
///   or at the end of a message that stops inside a code point: 1007;
/// - compressed messages are inflated with the peer's context-takeover setting (the
///   server's inflater resets per message under client_no_context_takeover, the client's
///   under server_no_context_takeover); invalid deflate data fails with 1007;
/// - with deliverFragments, every data frame is handed over when it ends (last() on the
///   message's final one); an unfinished code point at a text fragment's end is held back
///   for the next fragment, so every fragment is valid UTF-8 on its own.
/// After Failed, next() returns Failed and consumes nothing more.
///
/// Thread-safety: Distinct objects: Safe. Shared objects: Unsafe.
class MessageAssembler {
public:
    enum class Event : std::uint8_t {
        NeedMore,  ///< all input consumed
        Text,      ///< data(): a whole text message, or a fragment with deliverFragments
        Binary,    ///< bytes(): the same for binary
        Ping,      ///< data(): the payload (0..125 bytes)
        Pong,
        Close,     ///< data(): the raw close payload (see parseClosePayload in CloseState.hpp)
        Failed,    ///< failure(): close code, Errc and reason
    };

    /// `deflate`: the negotiated permessage-deflate parameters, or null (RSV1 then fails).
    MessageAssembler(Role role, const MessageLimits& limits, const DeflateParams* deflate = nullptr,
                     bool deliverFragments = false);
    ~MessageAssembler();
    MessageAssembler(const MessageAssembler&) = delete;
    MessageAssembler& operator=(const MessageAssembler&) = delete;

    /// Consumes input from `p` (advanced) up to `end` until it has an event. The buffer must
    /// be writable (payload is unmasked in place) and unchanged while data() is used.
    Event next(char*& p, char* end);

    std::string_view data() const noexcept { return data_; }
    std::span<const std::byte> bytes() const noexcept
    {
        return {reinterpret_cast<const std::byte*>(data_.data()), data_.size()};
    }
    /// Text/Binary: the event ends its message (always, unless deliverFragments).
    bool last() const noexcept { return last_; }
    const ProtocolFailure& failure() const noexcept;

    /// From now on data frames are still parsed and checked but dropped, never delivered
    /// (after our close frame is sent, RFC 6455 5.5.1 lets us ignore them).
    void discardData() noexcept { discard_ = true; }
    /// Changes the per-frame limit (the message limits are read at each message start).
    void setLimits(const MessageLimits& limits) noexcept;
    /// Frees the message buffer and the inflater (at the end of the connection).
    void releaseMemory() noexcept;
    const FrameParser& parser() const noexcept { return parser_; }
    /// A data message is in progress (its first frame has begun, its last not ended).
    bool inMessage() const noexcept { return parser_.inDataMessage(); }
    /// Heap bytes held for the message being assembled (what a receive budget counts).
    std::size_t heldBytes() const noexcept { return message_.capacity() > minHeap ? message_.capacity() : 0; }

private:
    static constexpr std::size_t minHeap = std::string().capacity();  // the short-string buffer
    /// Payload handling: an event to return, or NeedMore to go on parsing.
    Event onPayload();
    Event onHeader();
    Event deliver(std::string_view data, std::size_t consumed, bool last);
    Event fail(CloseStatus status, Errc error, std::string reason);
    std::size_t messageLimit() const noexcept;

    FrameParser parser_;
    MessageLimits limits_;
    bool deflate_;
    bool inflateReset_;       // reset the inflater after each message (peer's no_context_takeover)
    bool fragments_;
    bool discard_ = false;
    bool failed_ = false;
    bool text_ = false;        // the data message in progress is text
    bool compressed_ = false;  // ... is compressed
    bool last_ = false;
    std::uint8_t controlSize_ = 0;
    std::size_t consumed_ = 0;  // bytes at the front of message_ handed out by the last event
    std::uint64_t received_ = 0;  // wire bytes of the data message in progress
    std::string_view data_;
    std::string message_;  // the assembled (inflated) message, or the fragment
    Utf8Validator utf8_;
    std::unique_ptr<Inflater> inflater_;
    std::unique_ptr<ProtocolFailure> failure_;  // set when failing
    // A control payload that arrived in pieces (rare: allocated on first need and kept).
    std::unique_ptr<char[]> control_;
};

}  // namespace wharf::detail
