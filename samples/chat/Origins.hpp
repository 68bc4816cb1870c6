#pragma once
// Which web pages may open the chat's WebSocket: the origins of the chat's own pages
// (cross-site WebSocket hijacking: without this check any site a visitor opens could read
// and post in the chat through the visitor's browser).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chat {

/// Where the chat serves its page.
struct Listen {
    std::string host;                       ///< --host ("0.0.0.0", "::", a name or an address)
    std::optional<std::uint16_t> httpPort;  ///< the plain connector's port; nullopt: none (--no-plain)
    std::optional<std::uint16_t> httpsPort; ///< the TLS connector's port; nullopt: none
};

/// Origin patterns (WebSocketServletFactory::setAllowedOrigins) of the chat's own pages:
/// http://localhost:PORT, http://127.0.0.1:PORT, http://[::1]:PORT and http://HOST:PORT
/// when --host names one host, https://... for the TLS port; a port of 0, picked only at
/// start, is any port (`*`). Then `extra` (--allow-origin) as given.
std::vector<std::string> allowedOrigins(const Listen& listen, const std::vector<std::string>& extra);

}  // namespace chat
