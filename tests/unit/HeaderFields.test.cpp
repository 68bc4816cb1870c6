// Response splitting: header fields that cannot go on the wire as one field line are
// refused by the setter (RFC 9110 5.1 names are tokens; 5.5 values hold no CR, LF, NUL).

#include <wharf/Http.hpp>
#include <wharf/Upgrade.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

using wharf::Headers;
using wharf::Response;
using wharf::UpgradeResponse;

namespace {

/// The message of the std::invalid_argument that `f` throws ("" when it throws none).
template <class F>
std::string refusal(F&& f)
{
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_SUITE("http") {

TEST_CASE("a header value with CR, LF, NUL or another control character is refused, naming the header")
{
    const std::vector<std::string> values = {"a=1\r\nSet-Cookie: evil=1", "a\nb", "a\rb", std::string("a\0b", 3),
                                             "a\x1b[2Jb", "a\x7f"};
    for (const auto& value : values) {
        CAPTURE(value);
        Response response;
        CHECK(refusal([&] { response.setHeader("Set-Cookie", value); }).find("Set-Cookie") != std::string::npos);
        CHECK(refusal([&] { response.addHeader("X-Name", value); }).find("X-Name") != std::string::npos);
        CHECK(refusal([&] { response.setContentType(value); }).find("Content-Type") != std::string::npos);
        CHECK(refusal([&] { response.headers().add("X-Direct", value); }).find("X-Direct") != std::string::npos);
        CHECK(refusal([&] { response.headers().set("X-Direct", value); }).find("X-Direct") != std::string::npos);
        CHECK(response.headers().size() == 0);  // nothing was stored
        UpgradeResponse upgrade;
        CHECK(refusal([&] { upgrade.addHeader("X-Room", value); }).find("X-Room") != std::string::npos);
        CHECK(upgrade.headers().size() == 0);
    }
}

TEST_CASE("a header name that is not a token is refused")
{
    const std::vector<std::string> names = {"", "X Name", "X-Name:", "X-Name\r\nSet-Cookie", "X\tName", "Caf\xc3\xa9", "(x)"};
    for (const auto& name : names) {
        CAPTURE(name);
        Response response;
        CHECK_THROWS_AS(response.setHeader(name, "1"), std::invalid_argument);
        CHECK_THROWS_AS(response.addHeader(name, "1"), std::invalid_argument);
        UpgradeResponse upgrade;
        CHECK_THROWS_AS(upgrade.addHeader(name, "1"), std::invalid_argument);
    }
    // The message says what is wrong without the raw bytes of the name.
    const auto why = refusal([] { Response().setHeader("X-Name\r\nSet-Cookie", "1"); });
    CHECK(why.find("token") != std::string::npos);
    CHECK(why.find('\r') == std::string::npos);
    CHECK(why.find('\n') == std::string::npos);
}

TEST_CASE("valid fields pass: tokens, spaces, tabs, UTF-8 and other obs-text, empty values")
{
    Response response;
    response.setHeader("Set-Cookie", "sid=abc; Path=/; HttpOnly");
    response.addHeader("X-Tab", "a\tb");
    response.addHeader("X-Utf8", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
    response.addHeader("X-Empty", "");
    response.addHeader("!#$%&'*+-.^_`|~09azAZ", "all tchars");
    CHECK(response.headers().size() == 5);
    Headers headers;
    headers.set("ETag", "\"5-abc\"");
    CHECK(headers.get("etag") == "\"5-abc\"");
}

}  // TEST_SUITE
