#include "Origins.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace chat {

std::vector<std::string> allowedOrigins(const Listen& listen, const std::vector<std::string>& extra)
{
    std::vector<std::string> hosts = {"localhost", "127.0.0.1", "[::1]"};
    // A wildcard address names no host a page could be loaded from.
    const std::string& host = listen.host;
    if (!host.empty() && host != "0.0.0.0" && host != "::") {
        const std::string named = host.find(':') != std::string::npos ? "[" + host + "]" : host;
        if (std::find(hosts.begin(), hosts.end(), named) == hosts.end()) hosts.push_back(named);
    }
    std::vector<std::string> out;
    for (const auto& [scheme, port] : {std::pair{"http", listen.httpPort}, std::pair{"https", listen.httpsPort}})
        if (port)
            for (const auto& h : hosts)
                out.push_back(*port == 0 ? fmt::format("{}://{}:*", scheme, h) : fmt::format("{}://{}:{}", scheme, h, *port));
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
}

}  // namespace chat
