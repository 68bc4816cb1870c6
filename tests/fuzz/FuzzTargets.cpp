// Targets: detail::PathSpec construction and matching, RequestBuilder::setTarget with
// queryParameters/cookies, detail::negotiateDeflate, Utf8Validator fed in pieces
// against a straightforward reference decoder, and the protocol core's frame parser and
// message assembler in the server role (4) and the client role (5).
//
// Not covered: WsConnection's own parser (the server's engine until it moves onto the
// protocol core); it needs a strand, a ServerState and an UpgradeAction.

#include "FuzzTargets.hpp"

#include "detail/Deflate.hpp"
#include "detail/PathSpec.hpp"
#include "detail/Utf8.hpp"
#include "handler/RequestBuilder.hpp"
#include "protocol/CloseState.hpp"
#include "protocol/FrameParser.hpp"
#include "protocol/MessageAssembler.hpp"

#include <wharf/Http.hpp>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::fuzz {
namespace {

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

/// Reference UTF-8 check: decode code point by code point (RFC 3629 section 4).
bool referenceUtf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        std::uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if (c >= 0xC0 && c < 0xE0) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c < 0xF0) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c < 0xF8) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= s.size()) return false;  // truncated at the end
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        const std::uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

/// True when some continuation could still make `s` valid (it fails only by ending early).
bool referencePrefixViable(std::string_view s)
{
    if (referenceUtf8(s)) return true;
    // Valid up to an unfinished sequence of 1-3 bytes that some continuation completes.
    static const char* seconds[] = {"\x80", "\x8f", "\x90", "\x9f", "\xa0", "\xbf"};
    for (std::size_t k = 1; k <= 3 && k <= s.size(); ++k) {
        if (!referenceUtf8(s.substr(0, s.size() - k))) continue;
        for (const char* a : seconds)
            for (const char* b : seconds)
                for (const char* c : seconds) {
                    std::string t(s.substr(s.size() - k));
                    t += a;
                    for (int more = 0; more < 3; ++more) {
                        if (referenceUtf8(t)) return true;
                        t += more == 0 ? b : c;
                    }
                }
    }
    return false;
}

void fuzzUtf8(std::string_view in)
{
    const bool expected = referenceUtf8(in);
    check(detail::isValidUtf8(in) == expected, "isValidUtf8 disagrees with the reference decoder");
    // Same input in pieces: the first byte (if any) gives the piece size.
    if (in.empty()) return;
    const std::size_t piece = 1 + static_cast<unsigned char>(in[0]) % 7;
    in.remove_prefix(1);
    const bool whole = referenceUtf8(in);
    detail::Utf8Validator v;
    bool ok = true;
    std::size_t fed = 0;
    while (fed < in.size() && ok) {
        const auto n = std::min(piece, in.size() - fed);
        ok = v.feed(in.substr(fed, n));
        fed += n;
        if (ok && fed <= 256) check(referencePrefixViable(in.substr(0, fed)), "validator accepted a prefix that cannot be valid");
    }
    check((ok && v.complete()) == whole, "incremental validation disagrees with the reference decoder");
    if (ok) check(v.pendingBytes() <= 3, "pendingBytes out of range");
}

void fuzzPathSpec(std::string_view in)
{
    // "spec\npath\npath..." ; a malformed spec must throw std::invalid_argument, nothing else.
    const auto nl = in.find('\n');
    const auto specText = in.substr(0, nl);
    std::optional<detail::PathSpec> spec;
    try {
        spec.emplace(specText);
    } catch (const std::invalid_argument&) {
        return;
    }
    check(spec->spec() == specText, "spec() does not round-trip");
    std::string_view rest = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    detail::PathMappings<int> mappings;
    mappings.add(*spec, 1);
    mappings.add(detail::PathSpec("/"), 2);
    while (true) {
        const auto next = rest.find('\n');
        const auto path = rest.substr(0, next);
        if (auto m = spec->match(path)) {
            (void)m->servletPath.size();
            if (spec->kind() == detail::PathSpec::Kind::Exact) check(path == specText, "exact spec matched another path");
        }
        auto found = mappings.find(path);
        check(found.has_value(), "the default spec must match every path");
        (void)spec->betterThan(detail::PathSpec("/"));
        if (next == std::string_view::npos) break;
        rest.remove_prefix(next + 1);
    }
}

void fuzzRequest(std::string_view in)
{
    // "target\ncookie header"
    const auto nl = in.find('\n');
    Request r;
    if (detail::RequestBuilder(r).setTarget(std::string(in.substr(0, nl)))) {
        for (const auto& [name, value] : r.queryParameters()) (void)r.queryParameter(name);
        (void)r.path();
    }
    if (nl != std::string_view::npos) {
        try {
            detail::RequestBuilder(r).headers().add("Cookie", std::string(in.substr(nl + 1)));
        } catch (const std::invalid_argument&) {
            return;  // control characters: Headers keeps no such field (and no parser delivers one)
        }
        for (const auto& [name, value] : r.cookies()) (void)r.cookie(name);
    }
}

void fuzzDeflateOffer(std::string_view in)
{
    // Header values separated by '\n'; options from the first byte.
    if (in.empty()) return;
    const auto flags = static_cast<unsigned char>(in[0]);
    in.remove_prefix(1);
    DeflateOptions o;
    o.enabled = true;
    o.serverNoContextTakeover = flags & 1;
    o.clientNoContextTakeover = flags & 2;
    o.windowBits = 8 + (flags >> 4) % 9;
    std::vector<std::string_view> values;
    while (true) {
        const auto nl = in.find('\n');
        values.push_back(in.substr(0, nl));
        if (nl == std::string_view::npos) break;
        in.remove_prefix(nl + 1);
    }
    if (auto n = detail::negotiateDeflate(values, o)) {
        check(n->responseHeader.rfind("permessage-deflate", 0) == 0, "answer does not name permessage-deflate");
        check(n->params.serverMaxWindowBits >= 9 && n->params.serverMaxWindowBits <= 15, "window bits out of range");
        if (o.serverNoContextTakeover) check(n->params.serverNoContextTakeover, "server_no_context_takeover lost");
        // The answer must itself be an acceptable offer (a well-formed parameter list).
        DeflateOptions again = o;
        again.windowBits = 15;
        check(detail::negotiateDeflate({n->responseHeader}, again).has_value(), "answer is not well-formed");
    }
}

/// What an assembler made of an input: events and the failure, as text.
std::string assembleAll(detail::MessageAssembler& in, std::string bytes, std::size_t piece,
                        const detail::MessageLimits& limits, bool fragments)
{
    using Event = detail::MessageAssembler::Event;
    std::string log;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        std::string buf = bytes.substr(at, piece);  // a read of its own
        char* p = buf.data();
        char* const end = p + buf.size();
        for (;;) {
            const auto e = in.next(p, end);
            if (e == Event::NeedMore) break;
            check(p >= buf.data() && p <= end, "next() moved the input pointer out of the buffer");
            if (e == Event::Failed) {
                const auto& f = in.failure();
                const auto code = static_cast<int>(f.status);
                check(code == 1002 || code == 1007 || code == 1009, "failure with an unexpected close code");
                check(!f.reason.empty(), "failure without a reason");
                char* q = p;
                check(in.next(q, end) == Event::Failed && q == p, "a failed assembler consumed more input");
                return log + "failed " + std::to_string(code) + " " + f.reason;
            }
            const auto d = in.data();
            switch (e) {
            case Event::Text:
                check(detail::isValidUtf8(d), "a text message or fragment is not valid UTF-8");
                [[fallthrough]];
            case Event::Binary:
                check(d.size() <= (e == Event::Text ? limits.maxTextMessageSize : limits.maxBinaryMessageSize),
                      "a message over its limit was delivered");
                check(fragments || in.last(), "a partial message without deliverFragments");
                break;
            default: {
                check(d.size() <= detail::maxControlPayload, "control payload over 125 bytes");
                if (e != Event::Close) break;
                // The close handshake: what we answer must pass the peer's own check.
                detail::CloseState close(in.parser().role());
                const auto actions = close.receivedClose(d);
                check(actions.sendClose, "a close frame was not answered");
                const auto answer = close.closePayload();
                detail::ReceivedClose decoded;
                check(answer.size() <= detail::maxControlPayload, "our close payload is over 125 bytes");
                check(!detail::parseClosePayload(answer, decoded), "our close payload is invalid");
            }
            }
            const bool data = e == Event::Text || e == Event::Binary;
            log += std::to_string(static_cast<int>(e)) + (data && in.last() ? "L" : "") + ":" + std::string(d) + "\n";
        }
    }
    return log;
}

/// The frame parser and message assembler of one role: the same input must give the same
/// events whether it arrives whole or in pieces, and nothing delivered may break a limit.
/// Input: [flags][piece][frames...]; flags bit 0: permessage-deflate, bit 1: fragments,
/// bit 2: small limits, bits 3/4: client/server_no_context_takeover.
void fuzzProtocol(std::string_view in, detail::Role role)
{
    if (in.size() < 2) return;
    const auto flags = static_cast<unsigned char>(in[0]);
    const std::size_t piece = 1 + static_cast<unsigned char>(in[1]) % 64;
    in.remove_prefix(2);
    const bool fragments = flags & 2;
    const detail::MessageLimits limits = (flags & 4) ? detail::MessageLimits{64, 96, 80}
                                                     : detail::MessageLimits{1 << 16, 1 << 16, 1 << 16};
    detail::DeflateParams params;
    params.clientNoContextTakeover = flags & 8;
    params.serverNoContextTakeover = flags & 16;
    const detail::DeflateParams* deflate = (flags & 1) ? &params : nullptr;

    detail::MessageAssembler whole(role, limits, deflate, fragments);
    detail::MessageAssembler split(role, limits, deflate, fragments);
    const std::string bytes(in);
    const auto a = assembleAll(whole, bytes, bytes.size() ? bytes.size() : 1, limits, fragments);
    const auto b = assembleAll(split, bytes, piece, limits, fragments);
    // With deliverFragments, a frame that arrives in pieces is still delivered per frame:
    // the logs match in every mode.
    check(a == b, "events differ between whole and split input");

    // The bare parser: payload adds up to each header's length.
    detail::FrameParser parser(role, limits.maxFrameSize, deflate != nullptr);
    std::string buf = bytes;
    char* p = buf.data();
    char* const end = p + buf.size();
    std::uint64_t payload = 0;
    bool inFrame = false;
    for (bool more = true; more;) {
        switch (parser.next(p, end)) {
        case detail::FrameParser::Event::Header:
            check(!inFrame, "a header before the previous frame ended");
            inFrame = true;
            payload = 0;
            break;
        case detail::FrameParser::Event::Payload:
            check(inFrame, "payload without a header");
            payload += parser.chunk().size();
            check(payload <= parser.header().length, "more payload than the header announced");
            if (parser.frameEnd()) {
                check(payload == parser.header().length, "a frame ended short of its length");
                inFrame = false;
            }
            break;
        default: more = false; break;
        }
    }
}

}  // namespace

void runOne(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 6) {
    case 0: fuzzUtf8(in); break;
    case 1: fuzzPathSpec(in); break;
    case 2: fuzzRequest(in); break;
    case 3: fuzzDeflateOffer(in); break;
    case 4: fuzzProtocol(in, detail::Role::Server); break;
    case 5: fuzzProtocol(in, detail::Role::Client); break;
    }
}

}  // namespace wharf::fuzz
