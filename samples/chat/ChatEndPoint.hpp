#pragma once
// One connection of the wharf-chat sample (the ChatEndPoint of Jetty's sample), in a room.
// A room is a wharf topic: the server keeps who is in it and frames every message once
// for all of them (docs/pubsub.md).

#include <wharf/wharf.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chat {

/// The topic of a room ("room:NAME"), or "" when `room` is not a valid room name: 1 to 32
/// letters, digits, '-' or '_'. The empty name is the lobby.
std::string roomTopic(std::string_view room);

/// What a client asked for with "?since=" (with --redis; see ChatEndPoint).
struct Resume {
    bool positions = false;  ///< "since" was given: tell the client its position
    std::optional<wharf::TopicPosition> since;  ///< resume after this position
};

/// The first line a client gets names the node it is connected to ("* connected to node
/// NAME"). The first text a client sends is its name; every later one goes to everybody in
/// the room, the sender included, as "name: text"; joins and leaves are announced. A text
/// that could not be published (the Redis broker was unavailable) reached nobody: its
/// sender alone is told, as "! not delivered (broker unavailable): text".
///
/// Recovery (with --redis): a client that asked for positions gets "* position
/// EPOCH:OFFSET" once it is in the room, before any of the room's messages; each room
/// message after it (a "name: text" line, or "* name joined" / "* name left") is the next
/// offset. Every other line contains a ':' and is not the room's (names cannot contain
/// ':' or start with '!' or '*'). Reconnecting with "?since=EPOCH:OFFSET", it first gets
/// the room's messages it missed, each once, then the live ones. Messages that are gone
/// (beyond Redis's history, or Redis lost them) are reported as "* lost: ..." before the
/// position line of the connection, or later when they are lost while connected; the
/// client then knows its count is off and resumes from nothing (the page does).
/// Thread-safety: called by wharf on the connection's strand only.
class ChatEndPoint : public wharf::WebSocketListener {
public:
    ChatEndPoint(wharf::Server& server, std::string topic, std::string node, Resume resume = {})
        : server_(server), topic_(std::move(topic)), node_(std::move(node)), resume_(std::move(resume))
    {
    }
    void onConnect(wharf::Session session) override;
    void onText(std::string_view message) override;
    void onBinary(std::span<const std::byte> message) override;
    void onClose(wharf::CloseStatus status, std::string_view reason) override;
    void onError(const wharf::Error& error) override;
    void onSubscribed(std::string_view topic, const wharf::TopicPosition& position) override;
    void onTopicGap(std::string_view topic, const wharf::TopicGap& gap) override;

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
    const Resume resume_;
    wharf::Session session_;
    std::string username_;
    bool left_ = false;
};

}  // namespace chat
