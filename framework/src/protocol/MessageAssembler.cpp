// MessageAssembler: limits, UTF-8, inflate and delivery of the peer's messages (see
// MessageAssembler.hpp).
#include "protocol/MessageAssembler.hpp"

#include <fmt/format.h>

#include <cstring>

namespace wharf::detail {
namespace {

// A buffer that grew past this for one large message is released afterwards, so an idle
// connection does not keep the memory of its largest message.
constexpr std::size_t keepCapacity = 64 * 1024;

}  // namespace

MessageAssembler::MessageAssembler(Role role, const MessageLimits& limits, const DeflateParams* deflate,
                                   bool deliverFragments)
    : parser_(role, limits.maxFrameSize, deflate != nullptr),
      limits_(limits),
      deflate_(deflate != nullptr),
      // RFC 7692 7.1.1: the peer's no_context_takeover lets (makes) our inflater start
      // every message afresh: the server inflates what the client compressed, and back.
      inflateReset_(deflate && (role == Role::Server ? deflate->clientNoContextTakeover
                                                      : deflate->serverNoContextTakeover)),
      fragments_(deliverFragments)
{
}

MessageAssembler::~MessageAssembler() = default;

void MessageAssembler::setLimits(const MessageLimits& limits) noexcept
{
    limits_ = limits;
    parser_.setMaxFrameSize(limits.maxFrameSize);
}

void MessageAssembler::releaseMemory() noexcept
{
    std::string().swap(message_);
    consumed_ = 0;
    data_ = {};
    inflater_.reset();
}

std::size_t MessageAssembler::messageLimit() const noexcept
{
    return text_ ? limits_.maxTextMessageSize : limits_.maxBinaryMessageSize;
}

MessageAssembler::Event MessageAssembler::fail(CloseStatus status, Errc error, std::string reason)
{
    failed_ = true;
    failure_ = std::make_unique<ProtocolFailure>(ProtocolFailure{status, error, std::move(reason)});
    data_ = {};
    return Event::Failed;
}

const ProtocolFailure& MessageAssembler::failure() const noexcept
{
    static const ProtocolFailure none{};
    return failure_ ? *failure_ : none;
}

MessageAssembler::Event MessageAssembler::next(char*& p, char* const end)
{
    if (failed_) return Event::Failed;
    // What the previous event handed out of message_ is done with now.
    if (consumed_ > 0) {
        message_.erase(0, consumed_);
        consumed_ = 0;
        if (message_.empty() && message_.capacity() > keepCapacity) std::string().swap(message_);
    }
    data_ = {};
    for (;;) {
        switch (parser_.next(p, end)) {
        case FrameParser::Event::NeedMore: return Event::NeedMore;
        case FrameParser::Event::Failed: {
            const auto& f = parser_.failure();
            return fail(f.status, f.error, f.reason);
        }
        case FrameParser::Event::Header:
            if (onHeader() == Event::Failed) return Event::Failed;
            break;
        case FrameParser::Event::Payload:
            if (const auto e = onPayload(); e != Event::NeedMore) return e;
            break;
        }
    }
}

MessageAssembler::Event MessageAssembler::onHeader()
{
    const auto& h = parser_.header();
    if (isControl(static_cast<std::uint8_t>(h.opcode))) {
        controlSize_ = 0;
        return Event::NeedMore;
    }
    if (h.opcode != Opcode::Continuation) {
        text_ = h.opcode == Opcode::Text;
        compressed_ = h.rsv1;
        received_ = 0;
        utf8_.reset();
    }
    received_ += h.length;
    // Compressed messages are bounded by their inflated size below; the wire size only
    // needs a bound, as deflate can expand incompressible data a little.
    const std::uint64_t wireLimit = compressed_ ? withDeflateSlack(messageLimit()) : messageLimit();
    if (received_ > wireLimit)
        return fail(CloseStatus::MessageTooBig, Errc::MessageTooBig,
                    fmt::format("message exceeds the limit of {} bytes", messageLimit()));
    return Event::NeedMore;
}

MessageAssembler::Event MessageAssembler::deliver(std::string_view data, std::size_t consumed, bool last)
{
    data_ = data;
    consumed_ = consumed;
    last_ = last;
    return text_ ? Event::Text : Event::Binary;
}

MessageAssembler::Event MessageAssembler::onPayload()
{
    const auto& h = parser_.header();
    const std::string_view chunk = parser_.chunk();
    const bool frameEnd = parser_.frameEnd();

    if (isControl(static_cast<std::uint8_t>(h.opcode))) {
        std::string_view payload = chunk;
        if (!(parser_.wholeFrame() && frameEnd)) {
            // Pieces of at most 125 bytes in all (checked from the header).
            if (!control_) control_ = std::make_unique<char[]>(maxControlPayload);
            std::memcpy(control_.get() + controlSize_, chunk.data(), chunk.size());
            controlSize_ = static_cast<std::uint8_t>(controlSize_ + chunk.size());
            payload = std::string_view(control_.get(), controlSize_);
        }
        if (!frameEnd) return Event::NeedMore;
        data_ = payload;
        switch (h.opcode) {
        case Opcode::Ping: return Event::Ping;
        case Opcode::Pong: return Event::Pong;
        default: return Event::Close;
        }
    }

    const bool messageEnd = frameEnd && h.fin;
    if (discard_) {
        if (messageEnd) message_.clear();
        return Event::NeedMore;
    }
    if (compressed_) {
        if (!inflater_) inflater_ = std::make_unique<Inflater>(inflateReset_);
        const std::size_t before = message_.size();
        const auto result = inflater_->inflate(chunk, message_, messageLimit(), messageEnd);
        // What was inflated before a failure is checked first, so the first fault in the
        // message decides the close code however the input was split into reads.
        if (text_ && !utf8_.feed(std::string_view(message_).substr(before)))
            return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message is not valid UTF-8");
        switch (result) {
        case Inflater::Result::Ok: break;
        case Inflater::Result::TooBig:
            return fail(CloseStatus::MessageTooBig, Errc::MessageTooBig,
                        fmt::format("inflated message exceeds the limit of {} bytes", messageLimit()));
        case Inflater::Result::Error:
            return fail(CloseStatus::InvalidPayload, Errc::CompressionError, "invalid permessage-deflate data");
        }
    } else {
        if (text_ && !utf8_.feed(chunk))
            return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message is not valid UTF-8");
        if (frameEnd && parser_.wholeFrame() && message_.empty() && (h.fin || fragments_)) {
            // The whole frame sits in the caller's buffer: hand it over without copying. A
            // text fragment keeps an unfinished code point back for the next fragment.
            if (text_ && h.fin && !utf8_.complete())
                return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message ends inside a code point");
            const std::size_t keep = text_ && !h.fin ? utf8_.pendingBytes() : 0;
            message_.append(chunk.substr(chunk.size() - keep));
            return deliver(chunk.substr(0, chunk.size() - keep), 0, h.fin);
        }
        message_.append(chunk);
    }
    if (!frameEnd || (!h.fin && !fragments_)) return Event::NeedMore;
    if (text_ && h.fin && !utf8_.complete())
        return fail(CloseStatus::InvalidPayload, Errc::InvalidUtf8, "text message ends inside a code point");
    const std::size_t keep = text_ && !h.fin ? utf8_.pendingBytes() : 0;
    const std::size_t size = message_.size() - keep;
    return deliver(std::string_view(message_).substr(0, size), size, h.fin);
}

}  // namespace wharf::detail
