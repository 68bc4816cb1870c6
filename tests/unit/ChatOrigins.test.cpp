// The chat sample's allowed WebSocket origins (samples/chat/Origins.hpp).
#include "chat/Origins.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using chat::allowedOrigins;
using chat::Listen;
using Origins = std::vector<std::string>;

TEST_SUITE("samples") {

TEST_CASE("the chat allows its own pages on loopback names at its ports")
{
    CHECK(allowedOrigins(Listen{"0.0.0.0", 8080, std::nullopt}, {}) ==
          Origins{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"});
    CHECK(allowedOrigins(Listen{"::", std::nullopt, 8443}, {}) ==
          Origins{"https://localhost:8443", "https://127.0.0.1:8443", "https://[::1]:8443"});
}

TEST_CASE("a named --host joins the list")
{
    CHECK(allowedOrigins(Listen{"chat.example.com", 80, 443}, {}) ==
          Origins{"http://localhost:80", "http://127.0.0.1:80", "http://[::1]:80", "http://chat.example.com:80",
                  "https://localhost:443", "https://127.0.0.1:443", "https://[::1]:443", "https://chat.example.com:443"});
    CHECK(allowedOrigins(Listen{"2001:db8::7", 9000, std::nullopt}, {}) ==
          Origins{"http://localhost:9000", "http://127.0.0.1:9000", "http://[::1]:9000", "http://[2001:db8::7]:9000"});
    CHECK(allowedOrigins(Listen{"127.0.0.1", 9000, std::nullopt}, {}).size() == 3);  // no duplicate
}

TEST_CASE("port 0 allows its own pages on any port, and --allow-origin ones are added")
{
    CHECK(allowedOrigins(Listen{"127.0.0.1", 0, std::nullopt}, {"https://chat.example.com"}) ==
          Origins{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*", "https://chat.example.com"});
}

}  // TEST_SUITE
