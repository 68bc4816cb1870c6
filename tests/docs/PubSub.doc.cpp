// The examples of docs/pubsub.md. Compiled (not run) by tests/CMakeLists.txt so the docs
// cannot drift from the API. Each //[name ... //] block is quoted in the docs.

#include <wharf/wharf.hpp>

#include <fmt/format.h>

#include <atomic>
#include <memory>
#include <string>

namespace docs {

//[room
// A chat room per path: /rooms/{room}. The server keeps who is in which room.
class RoomEndPoint : public wharf::WebSocketListener {
public:
    explicit RoomEndPoint(wharf::Server& server) : server_(server) {}

    void onConnect(wharf::Session session) override
    {
        session_ = session;
        topic_ = "room:" + session.upgradeRequest()->pathParameter("room").value_or("lobby");
        session_.subscribe(topic_);  // left again when the session closes
    }
    void onText(std::string_view message) override
    {
        // Everybody in the room, this session included; framed once for all of them.
        server_.publish(topic_, wharf::Message::text(message));
        // session_.publish(topic_, ...) would reach everybody but this session.
    }

private:
    wharf::Server& server_;
    wharf::Session session_;
    std::string topic_;
};

void configure(wharf::Server& server, wharf::ServletContextHandler& context)
{
    context.addWebSocket("/rooms/*", [&server](wharf::WebSocketServletFactory& factory) {
        factory.addMapping<RoomEndPoint>("/rooms/{room}", std::ref(server));
    });
}
//]

//[ticker
// A price feed: any thread publishes; a subscriber that cannot keep up misses prices
// instead of being disconnected (the feed's next price supersedes the one it missed).
void startFeed(wharf::Server& server, wharf::ServletContextHandler& context, std::atomic<std::uint64_t>& missed)
{
    context.addWebSocket("/prices", [&missed](wharf::WebSocketServletFactory& factory) {
        factory.setMaxSendQueueSize(64 * 1024);
        factory.setSlowSubscriberPolicy(wharf::SlowSubscriberPolicy::Drop,
                                        [&missed](const wharf::Session&, std::string_view, const wharf::Message&) {
                                            ++missed;  // on the publisher's thread
                                        });
        factory.addMapping("/prices", [](const wharf::UpgradeRequest&, wharf::UpgradeResponse&) {
            struct Subscriber : wharf::WebSocketListener {
                void onConnect(wharf::Session session) override { session.subscribe("prices"); }
            };
            return std::make_shared<Subscriber>();
        });
    });
    // Orders must not be dropped, whatever the mapping says: Close wins for this topic.
    server.setTopicPolicy("orders", wharf::SlowSubscriberPolicy::Close);
}

void onPrice(wharf::Server& server, std::string_view symbol, double price)
{
    const auto queued = server.publish("prices", wharf::Message::text(fmt::format("{} {:.2f}", symbol, price)));
    (void)queued;  // subscribers it was queued for
}
//]

//[activity
// Tell an upstream source which topics anyone wants (the hook runs under the registry's
// lock: record the change, do not subscribe or publish from it).
void watchTopics(wharf::Server& server, std::function<void(std::string, bool)> upstream)
{
    server.setTopicActivityListener([upstream](std::string_view topic, bool active) {
        upstream(std::string(topic), active);  // e.g. queue a SUBSCRIBE / UNSUBSCRIBE
    });
}
//]

}  // namespace docs
