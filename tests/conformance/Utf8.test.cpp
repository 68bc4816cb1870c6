// Section 6: UTF-8 in text messages (RFC 6455 5.6, 8.1; RFC 3629). Invalid text fails
// with 1007, also when split across fragments, and as soon as the bytes received so
// far cannot start valid UTF-8 (8.1 "fail fast"); valid text passes in any split.

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.utf8";

struct Invalid {
    const char* name;
    std::string bytes;
    std::size_t failsAfter;  // bytes after which no continuation can make it valid; 0: only at the end
};

std::vector<Invalid> invalidTable()
{
    using namespace std::string_literals;
    return {
        {"overlong NUL C0 80", "ab\xc0\x80"s, 3},
        {"overlong C1 BF", "\xc1\xbf"s, 1},
        {"overlong 3-byte E0 80 80", "\xe0\x80\x80"s, 2},
        {"overlong 3-byte E0 9F BF", "\xe0\x9f\xbf"s, 2},
        {"overlong 4-byte F0 80 80 80", "\xf0\x80\x80\x80"s, 2},
        {"overlong 4-byte F0 8F BF BF", "\xf0\x8f\xbf\xbf"s, 2},
        {"surrogate U+D800", "x\xed\xa0\x80y"s, 3},
        {"surrogate U+DBFF", "\xed\xaf\xbf"s, 2},
        {"surrogate U+DC00", "\xed\xb0\x80"s, 2},
        {"surrogate U+DFFF", "\xed\xbf\xbf"s, 2},
        {"surrogate pair D800 DC00", "\xed\xa0\x80\xed\xb0\x80"s, 2},
        {"above U+10FFFF F4 90 80 80", "\xf4\x90\x80\x80"s, 2},
        {"above U+10FFFF F4 BF BF BF", "\xf4\xbf\xbf\xbf"s, 2},
        {"lead F5", "\xf5\x80\x80\x80"s, 1},
        {"lead F7", "\xf7\xbf\xbf\xbf"s, 1},
        {"5-byte form F8", "\xf8\x88\x80\x80\x80"s, 1},
        {"6-byte form FC", "\xfc\x84\x80\x80\x80\x80"s, 1},
        {"byte FE", "ab\xfe"s, 3},
        {"byte FF", "\xff"s, 1},
        {"stray continuation 80", "\x80"s, 1},
        {"stray continuation BF after text", "Hello\xbfworld"s, 6},
        {"two continuations after a 2-byte char", "\xc2\xa9\x80"s, 3},
        {"lead C2 followed by ASCII", "\xc2\x41"s, 2},
        {"lead E2 followed by ASCII", "\xe2\x28\xa1"s, 2},
        {"lead F0 cut by ASCII", "\xf0\x9f\x98\x41"s, 4},
        {"Autobahn 6.4.1 kosme then surrogate", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited"s, 13},
        {"truncated 2-byte at end", "abc\xc2"s, 0},
        {"truncated 3-byte at end", "\xe2\x82"s, 0},
        {"truncated 4-byte at end", "ok\xf0\x9f\x98"s, 0},
        {"lone lead E0 at end", "\xe0"s, 0},
    };
}

struct Valid {
    const char* name;
    std::string bytes;
};

std::vector<Valid> validTable()
{
    using namespace std::string_literals;
    return {
        {"ASCII", "Hello, World"s},
        {"Latin-1 mix", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"s},
        {"Greek kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"s},
        {"U+0000", "a\x00z"s},
        {"U+007F and U+0080", "\x7f\xc2\x80"s},
        {"U+07FF and U+0800", "\xdf\xbf\xe0\xa0\x80"s},
        {"U+D7FF and U+E000", "\xed\x9f\xbf\xee\x80\x80"s},
        {"U+FFFD U+FFFE U+FFFF", "\xef\xbf\xbd\xef\xbf\xbe\xef\xbf\xbf"s},
        {"U+10000 and U+10FFFF", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"s},
        {"emoji and CJK", "\xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x91\x8d"s},
    };
}

void expectInvalidSingle(const std::string& bytes)
{
    EchoServer s;
    auto c = s.open();
    c.sendText(bytes);
    expectClose(c, 1007);
}

CONFORMANCE_TABLE(utf8Cases)
{
    for (const auto& row : invalidTable()) {
        const std::string bytes = row.bytes;
        CONFORMANCE_ADD(S, std::string("invalid: ") + row.name + " in one frame fails with 1007",
                        [bytes] { expectInvalidSingle(bytes); });
        CONFORMANCE_ADD(S, std::string("invalid: ") + row.name + " split into two fragments at every point fails with 1007",
                        [bytes] {
                            EchoServer s;
                            for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
                                CAPTURE(cut);
                                auto c = s.open();
                                c.sendRaw(RawClient::buildFrame(0x1, bytes.substr(0, cut), false) +
                                          RawClient::buildFrame(0x0, bytes.substr(cut), true));
                                expectClose(c, 1007);
                            }
                        });
        CONFORMANCE_ADD(S, std::string("invalid: ") + row.name + " one byte per fragment fails with 1007", [bytes] {
            EchoServer s;
            auto c = s.open();
            std::string frames = RawClient::buildFrame(0x1, "", false);
            for (std::size_t i = 0; i < bytes.size(); ++i)
                frames += RawClient::buildFrame(0x0, bytes.substr(i, 1), i + 1 == bytes.size());
            c.sendRaw(frames);
            expectClose(c, 1007);
        });
        if (row.failsAfter > 0) {
            const std::size_t k = row.failsAfter;
            CONFORMANCE_ADD(S, std::string("invalid: ") + row.name +
                                   " fails fast on a non-final fragment before the rest is sent",
                            [bytes, k] {
                                EchoServer s;
                                auto c = s.open();
                                c.sendFrame(0x1, bytes.substr(0, k), false);  // the message never ends
                                expectClose(c, 1007);
                            });
            CONFORMANCE_ADD(S, std::string("invalid: ") + row.name +
                                   " fails fast inside one frame whose payload is still arriving",
                            [bytes, k] {
                                EchoServer s;
                                auto c = s.open();
                                const auto frame = RawClient::buildFrame(0x1, bytes + std::string(1000, 'a'));
                                const std::size_t header = 8;  // 16-bit length + mask
                                c.sendRaw(std::string_view(frame).substr(0, header + k));
                                expectClose(c, 1007);
                            });
        }
    }
    for (const auto& row : validTable()) {
        const std::string bytes = row.bytes;
        CONFORMANCE_ADD(S, std::string("valid: ") + row.name + " in one frame is echoed", [bytes] {
            EchoServer s;
            auto c = s.open();
            c.sendText(bytes);
            expectEcho(c, 0x1, bytes);
            closeNormally(c);
        });
        CONFORMANCE_ADD(S, std::string("valid: ") + row.name + " split into two fragments at every point is echoed",
                        [bytes] {
                            EchoServer s;
                            auto c = s.open();
                            for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
                                CAPTURE(cut);
                                c.sendFrame(0x1, bytes.substr(0, cut), false);
                                c.sendFrame(0x0, bytes.substr(cut), true);
                                expectEcho(c, 0x1, bytes);
                            }
                            closeNormally(c);
                        });
        CONFORMANCE_ADD(S, std::string("valid: ") + row.name + " one byte per fragment is echoed", [bytes] {
            EchoServer s;
            auto c = s.open();
            std::string frames = RawClient::buildFrame(0x1, "", false);
            for (std::size_t i = 0; i < bytes.size(); ++i)
                frames += RawClient::buildFrame(0x0, bytes.substr(i, 1), i + 1 == bytes.size());
            c.sendRaw(frames);
            expectEcho(c, 0x1, bytes);
            closeNormally(c);
        });
    }
    CONFORMANCE_ADD(S, "binary messages are not checked for UTF-8", [] {
        EchoServer s;
        auto c = s.open();
        const std::string bytes("\xff\xfe\xc0\x80\xed\xa0\x80", 7);
        c.sendBinary(bytes);
        expectEcho(c, 0x2, bytes);
        closeNormally(c);
    });
}

}  // namespace
