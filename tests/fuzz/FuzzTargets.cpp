// Targets: detail::PathSpec construction and matching, Request::setTarget with
// queryParameters/cookies, detail::negotiateDeflate, and Utf8Validator fed in pieces
// against a straightforward reference decoder.
//
// Not covered: the WebSocket frame parser. It lives in WsConnection, which needs a
// strand, a ServerState and an UpgradeAction; it could be driven through a subclass with
// an in-memory stream, but that harness is not written yet (see docs/conformance.md).

#include "FuzzTargets.hpp"

#include "detail/Deflate.hpp"
#include "detail/PathSpec.hpp"
#include "detail/Utf8.hpp"

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
    if (r.setTarget(std::string(in.substr(0, nl)))) {
        for (const auto& [name, value] : r.queryParameters()) (void)r.queryParameter(name);
        (void)r.path();
    }
    if (nl != std::string_view::npos) {
        try {
            r.mutableHeaders().add("Cookie", std::string(in.substr(nl + 1)));
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

}  // namespace

void runOne(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
    case 0: fuzzUtf8(in); break;
    case 1: fuzzPathSpec(in); break;
    case 2: fuzzRequest(in); break;
    case 3: fuzzDeflateOffer(in); break;
    }
}

}  // namespace wharf::fuzz
