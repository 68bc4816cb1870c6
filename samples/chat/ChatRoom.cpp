#include "ChatRoom.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace chat {

void ChatRoom::join(const wharf::Session& session)
{
    std::lock_guard lock(mutex_);
    sessions_.insert(session);
}

bool ChatRoom::leave(const wharf::Session& session)
{
    std::lock_guard lock(mutex_);
    return sessions_.erase(session) > 0;
}

std::size_t ChatRoom::size() const
{
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

std::size_t ChatRoom::broadcast(std::string_view text)
{
    // Framed once; every send below shares these bytes.
    const auto message = wharf::Message::text(text);
    std::vector<wharf::Session> members;
    {
        std::lock_guard lock(mutex_);
        members.assign(sessions_.begin(), sessions_.end());
    }
    std::size_t reached = 0;
    for (const auto& member : members) {
        if (member.send(message)) {
            ++reached;
        } else if (member.isOpen()) {
            // Refused while open: its send queue is full, the client stopped reading.
            wharf::log::warn("chat: {} is not keeping up ({} bytes queued), closing it",
                             member.remoteAddress(), member.bufferedAmount());
            // What it has not read yet is dropped: the close frame must not wait behind it.
            member.close(wharf::CloseStatus::PolicyViolation, "too slow to keep up with the chat",
                         wharf::CloseMode::DiscardQueued);
        }
        // Refused while closed: it is leaving; its onClose takes it out of the room.
    }
    return reached;
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
    room_.join(session_);
    wharf::log::info("chat: {} connected ({} online)", session_.remoteAddress(), room_.size());
}

void ChatEndPoint::onText(std::string_view message)
{
    if (!username_.empty()) {
        room_.broadcast(fmt::format("{}: {}", username_, message));
        return;
    }
    const auto name = trim(message);
    if (const auto why = refuseName(name); !why.empty()) {
        session_.sendText(fmt::format("* name not accepted: {}", why));
        return;
    }
    username_ = name;
    wharf::log::info("chat: {} is {}", session_.remoteAddress(), username_);
    room_.broadcast(fmt::format("* {} joined", username_));
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
    if (room_.leave(session_) && !username_.empty())
        room_.broadcast(fmt::format("* {} left", username_));
}

}  // namespace chat
