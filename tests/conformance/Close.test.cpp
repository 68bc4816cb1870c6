// Section 7: the closing handshake (RFC 6455 5.5.1, 7.1-7.4). Valid codes are echoed,
// invalid codes and a 1-byte payload fail with 1002, an invalid UTF-8 reason with 1007;
// nothing after the close frame is processed and the server closes TCP afterwards.
//
// Valid on the wire (7.4.1, 7.4.2 and the IANA "WebSocket Close Code Number Registry"):
// 1000-1003, 1007-1011, 1012 (Service Restart), 1013 (Try Again Later) and 1014 (Bad
// Gateway) are registered and may be sent; 3000-4999 are for libraries and applications.
// 1004 is reserved, 1005/1006/1015 must never be sent, 1016-2999 are unassigned in the
// protocol range and 0-999 / 5000+ are not used.

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.close";

CONFORMANCE_TABLE(closeCases)
{
    for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
                               4000, 4999}) {
        CONFORMANCE_ADD(S, "close code " + std::to_string(code) + " is valid and echoed", [code] {
            EchoServer s;
            auto c = s.open();
            c.sendClose(code);
            expectClose(c, code);
        });
        CONFORMANCE_ADD(S, "close code " + std::to_string(code) + " with a reason is echoed", [code] {
            EchoServer s;
            auto c = s.open();
            c.sendClose(code, "bye \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
            expectClose(c, code);
        });
    }
    for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
        CONFORMANCE_ADD(S, "close code " + std::to_string(code) + " is invalid and fails with 1002", [code] {
            EchoServer s;
            auto c = s.open();
            c.sendClose(code);
            expectClose(c, 1002);
        });
    }
    CONFORMANCE_ADD(S, "close with an empty payload is answered with an empty close", [] {
        EchoServer s;
        auto c = s.open();
        c.sendFrame(0x8, "");
        expectClose(c, 0);
    });
    CONFORMANCE_ADD(S, "close with a 1-byte payload fails with 1002", [] {
        EchoServer s;
        auto c = s.open();
        c.sendFrame(0x8, "\x03");
        expectClose(c, 1002);
    });
    CONFORMANCE_ADD(S, "close with a 123-byte reason (125-byte payload) is echoed", [] {
        EchoServer s;
        auto c = s.open();
        c.sendClose(1000, std::string(123, '*'));
        expectClose(c, 1000);
    });
    CONFORMANCE_ADD(S, "close with a 124-byte reason (126-byte payload) fails with 1002", [] {
        EchoServer s;
        auto c = s.open();
        c.sendClose(1000, std::string(124, '*'));
        expectClose(c, 1002);
    });
    const std::pair<const char*, std::string> badReasons[] = {
        {"stray continuation", std::string("\x80", 1)},
        {"surrogate", std::string("ok\xed\xa0\x80", 5)},
        {"truncated code point", std::string("\xe2\x82", 2)},
        {"byte FF", std::string("\xff", 1)},
        {"overlong", std::string("\xc0\xaf", 2)},
    };
    for (const auto& [name, reason] : badReasons) {
        CONFORMANCE_ADD(S, std::string("close reason with invalid UTF-8 (") + name + ") fails with 1007",
                        [reason = reason] {
                            EchoServer s;
                            auto c = s.open();
                            c.sendClose(1000, reason);
                            expectClose(c, 1007);
                        });
    }
    CONFORMANCE_ADD(S, "a text after the close frame is not echoed", [] {
        EchoServer s;
        auto c = s.open();
        c.sendClose(1000);
        c.sendText("after close");
        expectClose(c, 1000);
    });
    CONFORMANCE_ADD(S, "a text in the same write after the close frame is not echoed", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x8, std::string("\x03\xe8", 2)) + RawClient::buildFrame(0x1, "after") +
                  RawClient::buildFrame(0x9, "ping"));
        expectClose(c, 1000);
    });
    CONFORMANCE_ADD(S, "an invalid frame after the close frame changes nothing", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x8, std::string("\x0f\xa0", 2)) + RawClient::buildFrame(0x3, "reserved") +
                  RawClient::buildFrame(0x1, "\xff"));
        expectClose(c, 4000);
    });
    CONFORMANCE_ADD(S, "a second close frame is not answered", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x8, std::string("\x03\xe8", 2)) +
                  RawClient::buildFrame(0x8, std::string("\x03\xe9", 2)));
        expectClose(c, 1000);
    });
    CONFORMANCE_ADD(S, "close between the fragments of a message is honoured", [] {
        EchoServer s;
        auto c = s.open();
        c.sendFrame(0x1, "unfinished", false);
        c.sendClose(1001);
        expectClose(c, 1001);
    });
    CONFORMANCE_ADD(S, "a message echoed before the close arrives first", [] {
        EchoServer s;
        auto c = s.open();
        c.sendRaw(RawClient::buildFrame(0x1, "first") + RawClient::buildFrame(0x8, std::string("\x03\xe8", 2)));
        std::vector<Frame> before;
        expectClose(c, 1000, &before);
        REQUIRE(before.size() == 1);
        CHECK(before[0].payload == "first");
    });
    CONFORMANCE_ADD(S, "close sent one byte at a time is echoed", [] {
        EchoServer s;
        auto c = s.open();
        const auto bytes = RawClient::buildFrame(0x8, std::string("\x03\xe8", 2) + "slow");
        for (char b : bytes) c.sendRaw(std::string_view(&b, 1));
        expectClose(c, 1000);
    });
    CONFORMANCE_ADD(S, "TCP close without a close frame leaves the server healthy", [] {
        EchoServer s;
        {
            auto c = s.open();
            c.sendFrame(0x1, "half", false);
        }  // dropped
        auto c = s.open();
        expectHealthy(c);
    });
}

}  // namespace
