#include "Origins.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace chat {

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c); });
    return out;
}

std::string origin(std::string_view scheme, std::string_view host, std::uint16_t port)
{
    // RFC 6454 6.2: the default port is left out.
    const bool defaultPort = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
    return defaultPort ? fmt::format("{}://{}", scheme, host) : fmt::format("{}://{}:{}", scheme, host, port);
}

}  // namespace

std::vector<std::string> allowedOrigins(const Listen& listen, const std::vector<std::string>& extra)
{
    std::vector<std::string> hosts = {"localhost", "127.0.0.1", "[::1]"};
    // A wildcard address names no host a page could be loaded from.
    const std::string host = lower(listen.host);
    if (!host.empty() && host != "0.0.0.0" && host != "::") {
        const std::string named = host.find(':') != std::string::npos ? "[" + host + "]" : host;
        if (std::find(hosts.begin(), hosts.end(), named) == hosts.end()) hosts.push_back(named);
    }
    std::vector<std::string> out;
    auto add = [&](std::string o) {
        if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(std::move(o));
    };
    for (const auto& [scheme, port] : {std::pair{"http", listen.httpPort}, std::pair{"https", listen.httpsPort}})
        if (port && *port != 0)
            for (const auto& h : hosts) add(origin(scheme, h, *port));
    for (const auto& o : extra) add(o);
    add("");
    return out;
}

std::optional<std::string> normalizeOrigin(std::string_view text)
{
    std::string o = lower(text);
    if (o.ends_with('/')) o.pop_back();
    const auto schemeEnd = o.find("://");
    if (schemeEnd == std::string::npos) return std::nullopt;
    const auto scheme = std::string_view(o).substr(0, schemeEnd);
    const auto authority = std::string_view(o).substr(schemeEnd + 3);
    if (scheme != "http" && scheme != "https") return std::nullopt;
    if (authority.empty() || authority.find_first_of("/?#@ \t") != std::string_view::npos) return std::nullopt;
    // RFC 6454 6.2: browsers leave the scheme's default port out.
    const std::string_view defaultPort = scheme == "http" ? ":80" : ":443";
    if (authority.ends_with(defaultPort))
        return fmt::format("{}://{}", scheme, authority.substr(0, authority.size() - defaultPort.size()));
    return o;
}

}  // namespace chat
