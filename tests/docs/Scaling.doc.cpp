// The examples of docs/scaling.md. Compiled (not run) by tests/CMakeLists.txt so the docs
// cannot drift from the API. Each //[name ... //] block is quoted in the docs.

#include <wharf/wharf.hpp>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

namespace docs {

//[node
// One node of a cluster: the same program on every machine, all naming the same Redis.
void joinCluster(wharf::Server& server)
{
    wharf::RedisBrokerConfig broker;
    broker.url = "redis://:secret@10.0.0.5:6379/0";
    broker.publishTimeout = std::chrono::seconds(1);  // then Errc::BrokerUnavailable
    broker.historySize = 1000;                        // messages kept per topic for repair
    broker.historyTtl = std::chrono::minutes(10);     // after a topic's last publish
    server.setRedisBroker(broker);                    // before start()
}
//]

//[room
// A room whose members may sit on any node. A text that Redis did not take reached nobody,
// so its sender is told (from a server thread: only the Session is used there).
class RoomEndPoint : public wharf::WebSocketListener {
public:
    explicit RoomEndPoint(wharf::Server& server) : server_(server) {}

    void onConnect(wharf::Session session) override
    {
        session_ = session;
        session_.subscribe("room:lobby");  // this node subscribes in Redis for its first member
    }
    void onText(std::string_view message) override
    {
        server_.publish("room:lobby", wharf::Message::text(message),
                        [sender = session_, text = std::string(message)](std::error_code error) {
                            if (error == wharf::Errc::BrokerUnavailable)
                                sender.sendText(fmt::format("! not delivered: {}", text));
                        });
    }
    void onTopicGap(std::string_view topic, const wharf::TopicGap& gap) override
    {
        // Messages this member will never get: say so rather than pretend.
        if (gap.newEpoch)
            session_.sendText(fmt::format("* {}: some messages were lost (the broker lost its data)", topic));
        else
            session_.sendText(fmt::format("* {}: messages {} to {} were lost", topic, gap.from, gap.to));
    }

private:
    wharf::Server& server_;
    wharf::Session session_;
};
//]

//[resume
// A room whose clients resume where they left off. The client asks with "?since=" (empty
// the first time), keeps the position it is given, counts the room's messages after it,
// and reconnects with "?since=EPOCH:OFFSET".
class ResumableRoom : public wharf::WebSocketListener {
public:
    explicit ResumableRoom(std::optional<wharf::TopicPosition> since) : since_(std::move(since)) {}

    void onConnect(wharf::Session session) override
    {
        session_ = session;
        if (since_) session_.subscribe("room:lobby", *since_);  // what it missed comes first
        else session_.subscribe("room:lobby");
    }
    void onSubscribed(std::string_view, const wharf::TopicPosition& position) override
    {
        // Reaches the client before any message of the room that follows `position`.
        session_.sendText(fmt::format("position {}", position.toString()));
    }
    void onTopicGap(std::string_view, const wharf::TopicGap&) override
    {
        session_.sendText("lost: some messages of the room are gone; count from the next position");
    }

private:
    std::optional<wharf::TopicPosition> since_;
    wharf::Session session_;
};

void addResumableRoom(wharf::WebSocketServletFactory& factory)
{
    factory.addMapping("/room", [](const wharf::UpgradeRequest& request, wharf::UpgradeResponse& response)
                                    -> std::shared_ptr<wharf::WebSocketListener> {
        std::optional<wharf::TopicPosition> since;
        if (auto text = request.queryParameter("since"); text && !text->empty()) {
            if (!(since = wharf::TopicPosition::parse(*text))) {
                response.reject(400, "since must be EPOCH:OFFSET");
                return nullptr;
            }
        }
        return std::make_shared<ResumableRoom>(since);
    });
}
//]

//[health
// Ready for traffic only while the broker is connected and has caught up.
bool ready(const wharf::Server& server)
{
    const auto broker = server.brokerState();
    return !broker.configured || (broker.connected && broker.recovering == 0);
}
//]

}  // namespace docs
