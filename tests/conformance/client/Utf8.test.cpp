// UTF-8 from the client's side (RFC 6455 5.6, 8.1): a text that is not UTF-8 fails the
// connection with 1007, as soon as the bytes so far cannot begin valid UTF-8 ("fail fast":
// the client does not wait for the rest of the message). A code point split across
// fragments is valid; binary is never checked.

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.utf8";

CONFORMANCE_TABLE(utf8Cases)
{
    const std::pair<const char*, std::string> invalid[] = {
        {"byte FF", std::string("ab\xff", 3)},
        {"a stray continuation byte", std::string("\x80", 1)},
        {"an overlong slash", std::string("\xc0\xaf", 2)},
        {"a surrogate", std::string("\xed\xa0\x80", 3)},
        {"a code point above U+10FFFF", std::string("\xf4\x90\x80\x80", 4)},
        {"a truncated code point at the end", std::string("ok\xe2\x82", 4)},
    };
    for (const auto& [name, bytes] : invalid) {
        CONFORMANCE_ADD(S, std::string("RFC 6455 8.1: a text with ") + name + " fails with 1007", [bytes = bytes] {
            FakeServer s;
            s.open();
            s.sendFrame(0x1, bytes);
            expectFailure(s, 1007);
        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 8.1: an invalid first fragment fails with 1007 before the message ends", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, std::string("valid, then \xff", 13), false);  // no final fragment ever
        expectFailure(s, 1007);
    });
    CONFORMANCE_ADD(S, "RFC 6455 8.1: a code point truncated at the message end across fragments fails with 1007", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x1, "euro \xe2", false);
        s.sendFrame(0x0, "\x82", true);
        expectFailure(s, 1007);
    });
    const std::string kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";  // κόσμε
    for (std::size_t at : {1, 3, 4, 5}) {
        CONFORMANCE_ADD(S, "RFC 6455 5.6: a multi-byte code point split after byte " + std::to_string(at) +
                               " across fragments is echoed",
                        [kosme, at] {
                            FakeServer s;
                            s.open();
                            s.sendFrame(0x1, kosme.substr(0, at), false);
                            s.sendFrame(0x0, kosme.substr(at), true);
                            expectEcho(s, 0x1, kosme);
                            serverCloses(s);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 6455 5.6: a four-byte code point one byte per fragment is echoed", [] {
        FakeServer s;
        s.open();
        const std::string emoji = "\xf0\x9f\x98\x80";
        s.send(FakeServer::frame(0x1, emoji.substr(0, 1), false) + FakeServer::frame(0x0, emoji.substr(1, 1), false) +
               FakeServer::frame(0x0, emoji.substr(2, 1), false) + FakeServer::frame(0x0, emoji.substr(3, 1), true));
        expectEcho(s, 0x1, emoji);
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.6: a binary that is not UTF-8 is echoed", [] {
        FakeServer s;
        s.open();
        s.sendFrame(0x2, std::string("\xff\xfe\xc0\xaf", 4));
        expectEcho(s, 0x2, std::string("\xff\xfe\xc0\xaf", 4));
        serverCloses(s);
    });
}

}  // namespace
