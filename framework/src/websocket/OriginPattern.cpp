#include "websocket/OriginPattern.hpp"


#include <algorithm>
#include <charconv>

namespace wharf::detail {

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c); });
    return out;
}

int defaultPort(std::string_view scheme)
{
    if (scheme == "http" || scheme == "ws") return 80;
    if (scheme == "https" || scheme == "wss") return 443;
    return 0;  // no default: the origin must name its port
}

bool isHostChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
           c == '%';
}

}  // namespace

std::optional<OriginPattern> OriginPattern::parse(std::string_view text, bool wildcards)
{
    OriginPattern p;
    if (wildcards && text.ends_with('/')) text.remove_suffix(1);  // a pasted URL ("https://example.com/")
    if (text == "null") {
        p.null = true;
        return p;
    }
    const auto schemeEnd = text.find("://");
    if (schemeEnd == std::string_view::npos || schemeEnd == 0) return std::nullopt;
    p.scheme = lower(text.substr(0, schemeEnd));
    if (!std::all_of(p.scheme.begin(), p.scheme.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; }))
        return std::nullopt;
    std::string_view authority = text.substr(schemeEnd + 3);
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {  // an IPv6 literal
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(0, close + 1);
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') return std::nullopt;
            port = rest.substr(1);
            if (port.empty()) return std::nullopt;
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) return std::nullopt;
    }
    p.host = lower(host);
    if (wildcards && p.host.starts_with("*.")) {
        p.anySubdomain = true;
        p.host.erase(0, 1);  // ".example.com"
        if (p.host.size() < 2) return std::nullopt;
    }
    if (p.host.empty()) return std::nullopt;
    if (p.host.front() == '[') {
        if (!std::all_of(p.host.begin() + 1, p.host.end() - 1,
                         [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.'; }))
            return std::nullopt;
    } else if (!std::all_of(p.host.begin(), p.host.end(), isHostChar)) {
        return std::nullopt;
    }
    if (port.empty()) {
        p.port = defaultPort(p.scheme);
        if (p.port == 0) return std::nullopt;
    } else if (wildcards && port == "*") {
        p.port = -1;
    } else {
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p.port);
        if (ec != std::errc() || end != port.data() + port.size() || p.port < 1 || p.port > 65535) return std::nullopt;
    }
    return p;
}

bool OriginPattern::matches(const OriginPattern& origin) const
{
    if (null || origin.null) return null && origin.null;
    if (scheme != origin.scheme || (port != -1 && port != origin.port)) return false;
    if (!anySubdomain) return host == origin.host;
    // ".example.com": a.example.com and a.b.example.com, not example.com itself.
    return origin.host.size() > host.size() && origin.host.ends_with(host);
}

bool originAllowed(const std::vector<std::string>& patterns, bool allowMissing, std::optional<std::string_view> origin)
{
    if (patterns.empty()) return true;
    if (!origin) return allowMissing;
    const auto parsed = OriginPattern::parse(*origin, false);
    if (!parsed) return false;
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
        const auto p = OriginPattern::parse(pattern, true);
        return p && p->matches(*parsed);
    });
}

}  // namespace wharf::detail
