#pragma once
// The Origin check of WebSocketServletFactory::setAllowedOrigins (docs/security.md,
// "Origins"): patterns scheme://host[:port] with port `*` and host `*.domain`, compared the
// way RFC 6454 compares origins (scheme and host without regard to case, the default port
// filled in).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::detail {

struct OriginPattern {
    std::string scheme;       ///< lower case
    std::string host;         ///< lower case; for `*.example.com`: ".example.com"
    bool anySubdomain = false;
    int port = -1;            ///< -1: any (`*`)
    bool null = false;        ///< the pattern "null"

    /// Parses a pattern (wildcards allowed) or an Origin value (`wildcards` false); nullopt
    /// when it is not scheme://host[:port] (or "null").
    static std::optional<OriginPattern> parse(std::string_view text, bool wildcards);
    bool matches(const OriginPattern& origin) const;
};

/// Whether an upgrade request whose Origin header is `origin` (nullopt: none) may connect
/// under `patterns` (already validated) and `allowMissing`.
bool originAllowed(const std::vector<std::string>& patterns, bool allowMissing, std::optional<std::string_view> origin);

}  // namespace wharf::detail
