#pragma once
// One connection of the wharf-chat sample (the ChatEndPoint of Jetty's sample), in a room.
// A room is a wharf topic: the server keeps who is in it and frames every message once
// for all of them (docs/pubsub.md).

#include <wharf/wharf.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace chat {

/// The topic of a room ("room:NAME"), or "" when `room` is not a valid room name: 1 to 32
/// letters, digits, '-' or '_'. The empty name is the lobby.
std::string roomTopic(std::string_view room);

/// The first line a client gets names the node it is connected to ("* connected to node
/// NAME"). The first text a client sends is its name; every later one goes to everybody in
/// the room, the sender included, as "name: text"; joins and leaves are announced. A text
/// that could not be published (the Redis broker was unavailable) reached nobody: its
/// sender alone is told, as "! not delivered (broker unavailable): text".
/// Thread-safety: called by wharf on the connection's strand only.
class ChatEndPoint : public wharf::WebSocketListener {
public:
    ChatEndPoint(wharf::Server& server, std::string topic, std::string node)
        : server_(server), topic_(std::move(topic)), node_(std::move(node))
    {
    }
    void onConnect(wharf::Session session) override;
    void onText(std::string_view message) override;
    void onBinary(std::span<const std::byte> message) override;
    void onClose(wharf::CloseStatus status, std::string_view reason) override;
    void onError(const wharf::Error& error) override;

    /// Names longer than this (in bytes) are refused.
    static constexpr std::size_t maxNameSize = 32;

private:
    /// Publishes `text` to the room; if that fails, tells this client which of its texts
    /// (`quoted`) reached nobody.
    void publish(std::string_view text, std::string quoted);
    void leaveRoom();

    wharf::Server& server_;
    const std::string topic_;
    const std::string node_;
    wharf::Session session_;
    std::string username_;
    bool left_ = false;
};

}  // namespace chat
