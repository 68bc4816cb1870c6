// The chat sample's allowed WebSocket origins (samples/chat/Origins.hpp).
#include "chat/Origins.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using chat::allowedOrigins;
using chat::Listen;
using chat::normalizeOrigin;
using Origins = std::vector<std::string>;

TEST_SUITE("samples") {

TEST_CASE("the chat allows its own pages on loopback names at its ports, and clients without Origin")
{
    CHECK(allowedOrigins(Listen{"0.0.0.0", 8080, std::nullopt}, {}) ==
          Origins{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", ""});
    CHECK(allowedOrigins(Listen{"::", std::nullopt, 8443}, {}) ==
          Origins{"https://localhost:8443", "https://127.0.0.1:8443", "https://[::1]:8443", ""});
}

TEST_CASE("a named --host joins the list; default ports are left out as browsers do")
{
    CHECK(allowedOrigins(Listen{"Chat.Example.com", 80, 443}, {}) ==
          Origins{"http://localhost", "http://127.0.0.1", "http://[::1]", "http://chat.example.com",
                  "https://localhost", "https://127.0.0.1", "https://[::1]", "https://chat.example.com", ""});
    CHECK(allowedOrigins(Listen{"192.0.2.7", 9000, std::nullopt}, {}) ==
          Origins{"http://localhost:9000", "http://127.0.0.1:9000", "http://[::1]:9000", "http://192.0.2.7:9000", ""});
    CHECK(allowedOrigins(Listen{"2001:db8::7", 9000, std::nullopt}, {}) ==
          Origins{"http://localhost:9000", "http://127.0.0.1:9000", "http://[::1]:9000", "http://[2001:db8::7]:9000",
                  ""});
    CHECK(allowedOrigins(Listen{"127.0.0.1", 9000, std::nullopt}, {}).size() == 4);  // no duplicate
}

TEST_CASE("port 0 adds no origins of its own; --allow-origin ones are added")
{
    CHECK(allowedOrigins(Listen{"127.0.0.1", 0, std::nullopt}, {}) == Origins{""});
    CHECK(allowedOrigins(Listen{"127.0.0.1", 0, std::nullopt}, {"https://chat.example.com"}) ==
          Origins{"https://chat.example.com", ""});
}

TEST_CASE("--allow-origin values are normalised to what a browser sends, or refused")
{
    CHECK(normalizeOrigin("https://Chat.Example.com/") == "https://chat.example.com");
    CHECK(normalizeOrigin("https://chat.example.com:443") == "https://chat.example.com");
    CHECK(normalizeOrigin("http://chat.example.com:80") == "http://chat.example.com");
    CHECK(normalizeOrigin("http://chat.example.com:8080") == "http://chat.example.com:8080");
    CHECK(normalizeOrigin("http://[::1]:8080") == "http://[::1]:8080");
    CHECK_FALSE(normalizeOrigin("chat.example.com"));
    CHECK_FALSE(normalizeOrigin("ftp://chat.example.com"));
    CHECK_FALSE(normalizeOrigin("https://chat.example.com/room"));
    CHECK_FALSE(normalizeOrigin("https://"));
    CHECK_FALSE(normalizeOrigin("https://user@chat.example.com"));
}

}  // TEST_SUITE
