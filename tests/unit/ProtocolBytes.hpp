#pragma once
// Byte-level helpers for the protocol core's unit tests: hand-made frame headers (for the
// malformed cases the FrameWriter refuses to make) and drivers that feed a parser or an
// assembler in pieces of any size, each piece in a buffer of its own that is scribbled
// over once it has been handled (so nothing may keep pointing into an old read).

#include "protocol/FrameParser.hpp"
#include "protocol/FrameWriter.hpp"
#include "protocol/MessageAssembler.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::test {

using detail::FrameHeader;
using detail::FrameParser;
using detail::FrameWriter;
using detail::MaskKey;
using detail::MessageAssembler;
using detail::Opcode;
using detail::ProtocolFailure;
using detail::Role;

/// A frame built by hand. `lengthForm` is 7, 16 or 64 (the 7-bit, 126 and 127 forms),
/// whatever `length` is; `payload` (masked with `key` when `masked`) follows.
inline std::string rawFrame(std::uint8_t b0, std::uint64_t length, int lengthForm, bool masked,
                            std::string_view payload = {}, MaskKey key = {0x12, 0x34, 0x56, 0x78})
{
    std::string f;
    f.push_back(static_cast<char>(b0));
    const char m = masked ? '\x80' : 0;
    if (lengthForm == 7) {
        f.push_back(static_cast<char>(m | static_cast<char>(length)));
    } else if (lengthForm == 16) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(length >> 8));
        f.push_back(static_cast<char>(length));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(length >> (8 * i)));
    }
    if (masked) f.append(reinterpret_cast<const char*>(key.data()), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i & 3] : 0)));
    return f;
}

/// A frame as the peer of `role` sends it: masked when `role` is the server.
inline std::string peerFrame(Role role, Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false)
{
    std::string out;
    FrameWriter(role == Role::Server ? Role::Client : Role::Server).appendFrame(out, op, payload, fin, rsv1);
    return out;
}

/// Everything a parser made of some input.
struct ParsedFrame {
    FrameHeader header;
    std::string payload;
    bool arrivedWhole = false;  // one Payload event carried the whole frame
};
struct ParseRun {
    std::vector<ParsedFrame> frames;
    std::optional<ProtocolFailure> failure;
    std::size_t unconsumed = 0;  // bytes of the last piece left when it failed
};

/// Feeds `bytes` to `parser` in pieces of `piece` bytes (0: all at once), adding to `run`.
inline void feedInPieces(FrameParser& parser, std::string_view bytes, std::size_t piece, ParseRun& run)
{
    if (piece == 0) piece = bytes.size() ? bytes.size() : 1;
    for (std::size_t at = 0; at < bytes.size() || (bytes.empty() && at == 0); at += piece) {
        std::string buf(bytes.substr(at, piece));
        char* p = buf.data();
        char* const end = p + buf.size();
        for (bool more = true; more;) {
            switch (parser.next(p, end)) {
            case FrameParser::Event::NeedMore: more = false; break;
            case FrameParser::Event::Header: run.frames.push_back({parser.header(), {}, false}); break;
            case FrameParser::Event::Payload: {
                auto& f = run.frames.back();
                const auto c = parser.chunk();
                // Zero-copy: the chunk lies inside this read's buffer.
                if (!c.empty() && (c.data() < buf.data() || c.data() + c.size() > buf.data() + buf.size()))
                    run.failure = ProtocolFailure{CloseStatus::InternalError, Errc::InvalidArgument, "chunk outside buffer"};
                if (parser.wholeFrame() && parser.frameEnd()) f.arrivedWhole = true;
                f.payload.append(c);
                break;
            }
            case FrameParser::Event::Failed:
                run.failure = parser.failure();
                run.unconsumed = static_cast<std::size_t>(end - p);
                return;
            }
        }
        buf.assign(buf.size(), '\xEE');  // the next read reuses the memory
        if (bytes.empty()) break;
    }
}

inline ParseRun parseInPieces(FrameParser& parser, std::string_view bytes, std::size_t piece = 0)
{
    ParseRun run;
    feedInPieces(parser, bytes, piece, run);
    return run;
}

/// One event of a MessageAssembler, copied out.
struct AssembledEvent {
    MessageAssembler::Event event;
    std::string data;
    bool last = false;
    bool zeroCopy = false;  // data() pointed into the input buffer
};
struct AssembleRun {
    std::vector<AssembledEvent> events;
    std::optional<ProtocolFailure> failure;
};

inline AssembleRun assembleInPieces(MessageAssembler& in, std::string_view bytes, std::size_t piece = 0)
{
    AssembleRun run;
    if (piece == 0) piece = bytes.size() ? bytes.size() : 1;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        std::string buf(bytes.substr(at, piece));
        char* p = buf.data();
        char* const end = p + buf.size();
        for (bool more = true; more;) {
            const auto e = in.next(p, end);
            switch (e) {
            case MessageAssembler::Event::NeedMore: more = false; break;
            case MessageAssembler::Event::Failed: run.failure = in.failure(); return run;
            default: {
                const auto d = in.data();
                const bool inside = !d.empty() && d.data() >= buf.data() && d.data() + d.size() <= buf.data() + buf.size();
                run.events.push_back({e, std::string(d), in.last(), inside});
            }
            }
        }
        buf.assign(buf.size(), '\xEE');
    }
    return run;
}

}  // namespace wharf::test
