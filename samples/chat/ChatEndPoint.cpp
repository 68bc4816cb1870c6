#include "ChatEndPoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace chat {

std::string roomTopic(std::string_view room)
{
    if (room.empty()) return "room:lobby";
    if (room.size() > 32) return {};
    const bool valid = std::all_of(room.begin(), room.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    return valid ? "room:" + std::string(room) : std::string();
}

void ChatEndPoint::publish(std::string_view text, std::string quoted)
{
    // Framed once for the whole room. A member that stopped reading is closed with 1008
    // once its send queue is full (the topics' default policy), after what it had queued.
    // With --redis the handler runs once Redis accepted the text or gave up on it, on some
    // server thread: it uses only the Session, which any thread may use.
    auto done = [sender = session_, quoted = std::move(quoted)](std::error_code error) {
        if (!error) return;
        const auto why = error == wharf::Errc::BrokerUnavailable ? std::string("broker unavailable") : error.message();
        sender.sendText(fmt::format("! not delivered ({}): {}", why, quoted));
    };
    server_.publish(topic_, wharf::Message::text(text), std::move(done));
}

namespace {

std::string_view trim(std::string_view s)
{
    constexpr std::string_view space = " \t\r\n";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

// Why `name` cannot be used, or "" when it can.
std::string_view refuseName(std::string_view name)
{
    if (name.empty()) return "it is empty";
    if (name.size() > ChatEndPoint::maxNameSize) return "that name is too long (32 bytes at most)";
    if (name.front() == '*') return "names cannot start with '*'";
    if (name.front() == '!') return "names cannot start with '!'";
    if (name.find(':') != std::string_view::npos) return "names cannot contain ':'";
    const bool hasControl = std::any_of(name.begin(), name.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (hasControl) return "names cannot contain control characters";
    return {};
}

}  // namespace

void ChatEndPoint::onConnect(wharf::Session session)
{
    session_ = std::move(session);
    session_.sendText(fmt::format("* connected to node {}", node_));
    if (resume_.since) session_.subscribe(topic_, *resume_.since);
    else session_.subscribe(topic_);
    wharf::log::info("chat: {} connected to {} ({} there)", session_.remoteAddress(), topic_,
                     server_.subscriberCount(topic_));
}

void ChatEndPoint::onText(std::string_view message)
{
    if (!username_.empty()) {
        publish(fmt::format("{}: {}", username_, message), std::string(message));
        return;
    }
    const auto name = trim(message);
    if (const auto why = refuseName(name); !why.empty()) {
        session_.sendText(fmt::format("* name not accepted: {}", why));
        return;
    }
    username_ = name;
    wharf::log::info("chat: {} is {}", session_.remoteAddress(), username_);
    publish(fmt::format("* {} joined", username_), username_);
}

void ChatEndPoint::onSubscribed(std::string_view, const wharf::TopicPosition& position)
{
    // Sent before any of the room's messages reach this client (and before what it missed).
    if (resume_.positions) session_.sendText(fmt::format("* position {}", position.toString()));
}

void ChatEndPoint::onTopicGap(std::string_view, const wharf::TopicGap& gap)
{
    if (!resume_.positions) return;
    if (gap.newEpoch) session_.sendText("* lost: the room's earlier messages are gone");
    else session_.sendText(fmt::format("* lost: {} message(s) of the room are no longer kept", gap.to - gap.from + 1));
}

void ChatEndPoint::onBinary(std::span<const std::byte>)
{
    session_.close(wharf::CloseStatus::UnsupportedData, "this chat takes text messages only");
}

void ChatEndPoint::onClose(wharf::CloseStatus status, std::string_view reason)
{
    wharf::log::info("chat: {} ({}) closed {} {}", session_.remoteAddress(),
                     username_.empty() ? "unnamed" : username_,
                     static_cast<unsigned>(status), reason);
    leaveRoom();
}

void ChatEndPoint::onError(const wharf::Error& error)
{
    wharf::log::warn("chat: {} ({}): {}", session_.remoteAddress(),
                     username_.empty() ? "unnamed" : username_, error.what());
    leaveRoom();
}

void ChatEndPoint::leaveRoom()
{
    // Both onError and onClose may report the end of one connection: announced once. The
    // session has left the topic already (wharf does that when it closes).
    if (std::exchange(left_, true) || username_.empty()) return;
    publish(fmt::format("* {} left", username_), {});  // nobody left to tell
}

}  // namespace chat
