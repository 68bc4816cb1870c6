#include "protocol/CloseState.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wharf;
using wharf::detail::CloseState;
using wharf::detail::ReceivedClose;
using wharf::detail::Role;
using Phase = CloseState::Phase;

namespace {

std::string closeBody(std::uint16_t code, std::string_view reason = {})
{
    std::string s;
    s.push_back(static_cast<char>(code >> 8));
    s.push_back(static_cast<char>(code & 0xFF));
    s.append(reason);
    return s;
}

bool only(const CloseState::Actions& a, bool sendClose, bool armTimer, bool finish)
{
    return a.sendClose == sendClose && a.armTimer == armTimer && a.finish == finish;
}

}  // namespace

TEST_SUITE("protocol: close state") {

TEST_CASE("close payloads are checked (RFC 6455 5.5.1, 7.4)")
{
    ReceivedClose out;
    CHECK_FALSE(detail::parseClosePayload("", out));
    CHECK(out.status == CloseStatus::NoStatus);

    auto one = detail::parseClosePayload(std::string(1, '\x03'), out);
    REQUIRE(one);
    CHECK(one->status == CloseStatus::ProtocolError);
    CHECK(one->reason == "close frame with a 1-byte payload");

    for (std::uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        CAPTURE(bad);
        auto f = detail::parseClosePayload(closeBody(bad), out);
        REQUIRE(f);
        CHECK(f->status == CloseStatus::ProtocolError);
    }
    for (std::uint16_t good : {1000, 1001, 1002, 1003, 1007, 1010, 1011, 1014, 3000, 4999}) {
        CAPTURE(good);
        const std::string body = closeBody(good, "fine");  // out.reason points into it
        CHECK_FALSE(detail::parseClosePayload(body, out));
        CHECK(static_cast<std::uint16_t>(out.status) == good);
        CHECK(out.reason == "fine");
    }
    auto utf8 = detail::parseClosePayload(closeBody(1000, "bad \xC0"), out);
    REQUIRE(utf8);
    CHECK(utf8->status == CloseStatus::InvalidPayload);
    CHECK(utf8->error == Errc::InvalidUtf8);
}

TEST_CASE("close reasons are cut to 123 bytes on a code-point boundary")
{
    std::string reason(121, 'r');
    reason += "\xE2\x82\xAC";  // 124 bytes: the euro sign does not fit
    CHECK(detail::clampCloseReason(reason) == std::string(121, 'r'));
    CHECK(detail::clampCloseReason(std::string(200, 'a')).size() == 123);
    CHECK(detail::clampCloseReason("ok") == "ok");
    CHECK(detail::clampCloseReason("bad \xFF").empty());
}

TEST_CASE("the peer closes first: the server closes TCP after answering, the client waits for it")
{
    SUBCASE("server")
    {
        CloseState s(Role::Server);
        auto a = s.receivedClose(closeBody(1001, "bye"));
        CHECK(only(a, true, false, false));
        CHECK(s.phase() == Phase::CloseReceived);
        CHECK(s.closePayload() == closeBody(1001));  // the code is echoed
        CHECK_FALSE(s.canSend());
        CHECK_FALSE(s.parsing());
        CHECK(only(s.closeWritten(), false, false, true));
        CHECK(s.phase() == Phase::Closed);
        CHECK(s.status() == CloseStatus::GoingAway);
        CHECK(s.reason() == "bye");
        CHECK(s.handshakeDone());
        CHECK_FALSE(s.error());
    }
    SUBCASE("client")
    {
        CloseState s(Role::Client);
        CHECK(only(s.receivedClose(closeBody(1000)), true, false, false));
        CHECK(only(s.closeWritten(), false, true, false));
        CHECK(s.phase() == Phase::AwaitingTcpClose);
        CHECK(only(s.transportClosed(), false, false, true));
        CHECK(s.status() == CloseStatus::Normal);
    }
    SUBCASE("client, and the server never closes TCP")
    {
        CloseState s(Role::Client);
        s.receivedClose(closeBody(1000));
        s.closeWritten();
        CHECK(only(s.timeout(), false, false, true));
        CHECK(s.status() == CloseStatus::Normal);
        CHECK_FALSE(s.error());  // the handshake itself completed
    }
    SUBCASE("an empty close is answered with an empty close")
    {
        CloseState s(Role::Server);
        s.receivedClose("");
        CHECK(s.closePayload().empty());
        CHECK(s.status() == CloseStatus::NoStatus);
    }
}

TEST_CASE("we close first: the server closes TCP on the peer's answer, the client waits for TCP")
{
    SUBCASE("server")
    {
        CloseState s(Role::Server);
        CHECK(only(s.close(CloseStatus::Normal, "done"), true, true, false));
        CHECK(s.closePayload() == closeBody(1000, "done"));
        CHECK(s.parsing());
        CHECK_FALSE(s.deliversData());
        CHECK(only(s.closeWritten(), false, false, false));
        CHECK(only(s.receivedClose(closeBody(1000)), false, false, true));
        CHECK(s.status() == CloseStatus::Normal);
        CHECK(s.reason() == "done");
    }
    SUBCASE("client")
    {
        CloseState s(Role::Client);
        s.close(CloseStatus::Normal, {});
        s.closeWritten();
        CHECK(only(s.receivedClose(closeBody(1000)), false, true, false));
        CHECK(s.phase() == Phase::AwaitingTcpClose);
        CHECK(only(s.transportClosed(), false, false, true));
    }
    SUBCASE("the answer arrives before our close frame is written")
    {
        for (Role role : {Role::Server, Role::Client}) {
            CloseState s(role);
            s.close(CloseStatus::Normal, {});
            CHECK(only(s.receivedClose(closeBody(1000)), false, false, false));
            const auto a = s.closeWritten();
            CHECK(a.finish == (role == Role::Server));
            CHECK(s.phase() == (role == Role::Server ? Phase::Closed : Phase::AwaitingTcpClose));
        }
    }
    SUBCASE("the peer never answers: timeout with CloseTimeout")
    {
        CloseState s(Role::Server);
        s.close(CloseStatus::GoingAway, "idle");
        s.closeWritten();
        CHECK(only(s.timeout(), false, false, true));
        CHECK(s.status() == CloseStatus::GoingAway);
        CHECK(s.error() == Errc::CloseTimeout);
    }
    SUBCASE("a second close does nothing")
    {
        CloseState s(Role::Server);
        s.close(CloseStatus::Normal, {});
        CHECK(only(s.close(CloseStatus::GoingAway, {}), false, false, false));
        CHECK(s.status() == CloseStatus::Normal);
    }
}

TEST_CASE("codes that may not be sent become 1011; NoStatus sends an empty payload")
{
    for (auto code : {CloseStatus::Abnormal, CloseStatus::TlsHandshakeFailed, static_cast<CloseStatus>(999),
                      static_cast<CloseStatus>(5000)}) {
        CloseState s(Role::Server);
        s.close(code, "why");
        CHECK(s.closePayload() == closeBody(1011, "why"));
    }
    CloseState s(Role::Client);
    s.close(CloseStatus::NoStatus, "ignored");
    CHECK(s.closePayload().empty());
}

TEST_CASE("failing: the server closes TCP once its close frame is out; the client waits for the server")
{
    const wharf::detail::ProtocolFailure failure{CloseStatus::ProtocolError, Errc::ProtocolError, "bad frame"};
    SUBCASE("server")
    {
        CloseState s(Role::Server);
        CHECK(only(s.fail(failure), true, true, false));
        CHECK(s.closePayload() == closeBody(1002, "bad frame"));
        CHECK_FALSE(s.parsing());
        CHECK(only(s.closeWritten(), false, false, true));
        CHECK(s.status() == CloseStatus::ProtocolError);
        CHECK(s.error() == Errc::ProtocolError);
    }
    SUBCASE("client")
    {
        CloseState s(Role::Client);
        s.fail(failure);
        CHECK(only(s.closeWritten(), false, false, false));
        CHECK(s.phase() == Phase::AwaitingTcpClose);
        CHECK(only(s.transportClosed(), false, false, true));
        CHECK(s.status() == CloseStatus::ProtocolError);
    }
    SUBCASE("an invalid close frame fails the connection")
    {
        CloseState s(Role::Server);
        CHECK(only(s.receivedClose(closeBody(1005)), true, true, false));
        CHECK(s.closePayload().substr(0, 2) == closeBody(1002));
        CHECK(s.error() == Errc::ProtocolError);
    }
    SUBCASE("failing after our close frame: no second close frame")
    {
        CloseState s(Role::Server);
        s.close(CloseStatus::Normal, {});
        CHECK(only(s.fail(failure), false, false, false));
        CHECK(only(s.closeWritten(), false, false, true));
        CHECK(s.status() == CloseStatus::Normal);
    }
}

TEST_CASE("the transport ends without a close frame: 1006; abort ends at once")
{
    for (Role role : {Role::Server, Role::Client}) {
        CloseState s(role);
        CHECK(only(s.transportClosed(), false, false, true));
        CHECK(s.status() == CloseStatus::Abnormal);
        CHECK(only(s.transportClosed(), false, false, false));  // once

        CloseState t(role);
        t.close(CloseStatus::Normal, {});
        CHECK(only(t.abort(CloseStatus::GoingAway, "server stopped"), false, false, true));
        CHECK(t.status() == CloseStatus::GoingAway);
        CHECK(only(t.timeout(), false, false, false));
    }
}

}  // TEST_SUITE
