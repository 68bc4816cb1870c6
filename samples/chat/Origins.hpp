#pragma once
// Which web pages may open the chat's WebSocket: the Origin values of the chat's own pages
// (cross-site WebSocket hijacking: without this check any site a visitor opens could read
// and post in the chat through the visitor's browser).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

/// Where the chat serves its page.
struct Listen {
    std::string host;                       ///< --host ("0.0.0.0", "::", a name or an address)
    std::optional<std::uint16_t> httpPort;  ///< the plain connector's port; nullopt: none (--no-plain)
    std::optional<std::uint16_t> httpsPort; ///< the TLS connector's port; nullopt: none
};

/// The Origin values (RFC 6454 serialisation) a browser sends from the chat's own page:
/// http://localhost:PORT, http://127.0.0.1:PORT, http://[::1]:PORT and http://HOST:PORT
/// when --host names one host, https://... for the TLS port, without the port when it is
/// the scheme's default. A port of 0 contributes nothing: it is not known before the
/// server starts. Then `extra` (--allow-origin), and "" (no Origin at all, which only
/// non-browser clients send: RFC 6455 4.1 has browsers always send one).
std::vector<std::string> allowedOrigins(const Listen& listen, const std::vector<std::string>& extra);

/// `origin` as a browser sends it ("https://Chat.Example.com/" -> "https://chat.example.com"),
/// or nullopt when it is not "http://host[:port]" or "https://host[:port]".
std::optional<std::string> normalizeOrigin(std::string_view origin);

}  // namespace chat
