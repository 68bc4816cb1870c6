#pragma once
// The chat room of the wharf-chat sample: who is connected, and sending to all of them.

#include <wharf/wharf.hpp>

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace chat {

/// The set of connected sessions (Jetty's ChatEndPoint "members").
/// Thread-safety: every member may be called from any thread at once. The lock guards
/// only the set: broadcast copies the handles under it and sends outside it, so a slow
/// or closing session never holds up joins, leaves or other broadcasts.
class ChatRoom {
public:
    /// Adds a session; later broadcasts reach it.
    void join(const wharf::Session& session);
    /// Removes a session; true when it was a member (so "left" is announced once even
    /// when both onError and onClose report the end of one connection).
    bool leave(const wharf::Session& session);
    /// Sends `text` to every member. The frame is built once and shared by all sends.
    /// A member whose send queue is full (a client that stopped reading) is closed with
    /// 1008 rather than left to fall ever further behind. Returns the members reached.
    std::size_t broadcast(std::string_view text);
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::unordered_set<wharf::Session> sessions_;
};

/// One connection of the chat (the ChatEndPoint of Jetty's sample). The first text a
/// client sends is its name; every later one is broadcast as "name: text".
/// Thread-safety: called by wharf on the connection's strand only.
class ChatEndPoint : public wharf::WebSocketListener {
public:
    explicit ChatEndPoint(ChatRoom& room) : room_(room) {}

    void onConnect(wharf::Session session) override;
    void onText(std::string_view message) override;
    void onBinary(std::span<const std::byte> message) override;
    void onClose(wharf::CloseStatus status, std::string_view reason) override;
    void onError(const wharf::Error& error) override;

    /// Names longer than this (in bytes) are refused.
    static constexpr std::size_t maxNameSize = 32;

private:
    void leaveRoom();

    ChatRoom& room_;
    wharf::Session session_;
    std::string username_;
};

}  // namespace chat
