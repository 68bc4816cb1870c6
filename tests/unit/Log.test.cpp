#include <wharf/Log.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include <unistd.h>

using namespace wharf;

namespace {

/// Records what reaches the sink while it lives; restores the default sink and level after.
struct RecordingSink {
    std::vector<std::string> lines;
    log::Level savedLevel = log::level();
    RecordingSink()
    {
        log::setLevel(log::Level::Info);
        log::setSink([this](log::Level, std::string_view line) { lines.emplace_back(line); });
    }
    ~RecordingSink()
    {
        log::setSink({});
        log::setLevel(savedLevel);
    }
};

}  // namespace

TEST_SUITE("log") {

TEST_CASE("peer text with a newline and a terminal escape reaches the sink escaped, as one line")
{
    RecordingSink sink;
    // The chat's close reason of the review: a forged log line, then "clear the screen".
    log::info("chat: closed 1000 {}", "bye\n1700000000.000 wharf INFO  admin logged in\x1b[2J");
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0] == "chat: closed 1000 bye\\n1700000000.000 wharf INFO  admin logged in\\x1b[2J");
}

TEST_CASE("every C0 control, DEL and C1 control is escaped; valid UTF-8 passes; invalid bytes are escaped")
{
    RecordingSink sink;
    log::info("{}", std::string_view("a\rb\tc\0d\x7f" "e", 9));
    log::info("{}", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");  // é, 日本, an emoji
    log::info("{}", "csi \xc2\x9b" "31m");                                  // U+009B, the 8-bit CSI
    log::info("{}", "raw \x9b" "31m \xff \xc3");                            // not UTF-8
    log::info("{}", "surrogate \xed\xa0\x80 overlong \xc0\xaf");
    REQUIRE(sink.lines.size() == 5);
    CHECK(sink.lines[0] == "a\\rb\\tc\\x00d\\x7fe");
    CHECK(sink.lines[1] == "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
    CHECK(sink.lines[2] == "csi \\u009b31m");
    CHECK(sink.lines[3] == "raw \\x9b31m \\xff \\xc3");
    CHECK(sink.lines[4] == "surrogate \\xed\\xa0\\x80 overlong \\xc0\\xaf");
}

TEST_CASE("plain lines reach the sink unchanged")
{
    RecordingSink sink;
    log::info("http {} {}: handler threw: {}", "GET", "/a b\\c", 42);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0] == "http GET /a b\\c: handler threw: 42");
}

TEST_CASE("the default sink starts each line with an ISO 8601 UTC timestamp with milliseconds")
{
    log::setSink({});
    const auto saved = log::level();
    log::setLevel(log::Level::Info);
    // stderr into a temporary file for one line.
    std::FILE* file = std::tmpfile();
    REQUIRE(file);
    std::fflush(stderr);
    const int original = dup(fileno(stderr));
    dup2(fileno(file), fileno(stderr));
    log::info("server {} started", 1);
    std::fflush(stderr);
    dup2(original, fileno(stderr));
    close(original);
    log::setLevel(saved);
    std::rewind(file);
    char line[256] = {};
    REQUIRE(std::fgets(line, sizeof line, file));
    std::fclose(file);
    CAPTURE(line);
    CHECK(std::regex_match(line, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z wharf INFO  server 1 started\n)")));
}

}  // TEST_SUITE
