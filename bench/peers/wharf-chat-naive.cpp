// wharf-chat-naive: the chat protocol of samples/chat (wharf-chat) on wharf's public API,
// but broadcasting the way a first attempt would: Session::sendText(text) once per member,
// so every broadcast builds (and copies the payload into) one frame per recipient. It is
// the baseline of bench/run.sh's fan-out table: wharf-chat frames each broadcast once as
// a wharf::Message and shares it, and the difference between the two rows is what that saves.
//
//   wharf-chat-naive [--port 8080] [--threads 1]
//
// Listens on 127.0.0.1; the chat's WebSocket is at /chat (no web page). Protocol as in
// samples/chat/ChatRoom.cpp: the first text is the client's name ("* name joined" to all),
// every later one goes to all members, the sender included, as "name: text"; "* name left"
// when a named member goes; binary messages are refused with 1003. A member whose send
// queue is full is closed with 1008, as wharf-chat does. Names are checked less strictly
// than wharf-chat does (only: not empty, not starting with '*'); the bench's names pass both.
// Prints "wharf-chat-naive: open http://127.0.0.1:PORT/" once listening; SIGTERM stops it.

#include <wharf/wharf.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace {

class Room {
public:
    void join(const wharf::Session& s)
    {
        std::lock_guard lock(mutex_);
        members_.insert(s);
    }
    bool leave(const wharf::Session& s)
    {
        std::lock_guard lock(mutex_);
        return members_.erase(s) > 0;
    }
    // One sendText per member: the frame is built per recipient (the point of this server).
    void broadcast(const std::string& text)
    {
        std::vector<wharf::Session> members;
        {
            std::lock_guard lock(mutex_);
            members.assign(members_.begin(), members_.end());
        }
        for (const auto& m : members)
            if (!m.sendText(text) && m.isOpen()) m.close(wharf::CloseStatus::PolicyViolation, "too slow");
    }

private:
    std::mutex mutex_;
    std::unordered_set<wharf::Session> members_;
};

class Member : public wharf::WebSocketListener {
public:
    explicit Member(Room& room) : room_(room) {}

    void onConnect(wharf::Session session) override
    {
        session_ = std::move(session);
        room_.join(session_);
    }
    void onText(std::string_view message) override
    {
        if (!name_.empty()) return room_.broadcast(name_ + ": " + std::string(message));
        if (message.empty() || message.front() == '*') {
            session_.sendText("* name not accepted");
            return;
        }
        name_ = message;
        room_.broadcast("* " + name_ + " joined");
    }
    void onBinary(std::span<const std::byte>) override
    {
        session_.close(wharf::CloseStatus::UnsupportedData, "this chat takes text messages only");
    }
    void onClose(wharf::CloseStatus, std::string_view) override { leave(); }
    void onError(const wharf::Error&) override { leave(); }

private:
    void leave()
    {
        if (room_.leave(session_) && !name_.empty()) room_.broadcast("* " + name_ + " left");
    }

    Room& room_;
    wharf::Session session_;
    std::string name_;
};

}  // namespace

int main(int argc, char** argv)
{
    int port = 8080;
    unsigned threads = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = static_cast<unsigned>(std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: wharf-chat-naive [--port 8080] [--threads 1]\n");
            return 2;
        }
    }

    Room room;
    wharf::Server server;
    try {
        wharf::ServerConnector connector;
        connector.host = "127.0.0.1";
        connector.port = static_cast<std::uint16_t>(port);
        server.addConnector(connector);
        server.setThreads(threads);
        server.setStopAtShutdown(true);
        auto context = std::make_shared<wharf::ServletContextHandler>("/");
        context->addWebSocket("/chat", [&room](wharf::WebSocketServletFactory& factory) {
            factory.setIdleTimeout(std::chrono::milliseconds::zero());  // receivers never speak
            factory.addMapping("/", [&room](const wharf::UpgradeRequest&, wharf::UpgradeResponse&) {
                return std::make_shared<Member>(room);
            });
        });
        server.setHandler(context);
        server.start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wharf-chat-naive: %s\n", e.what());
        return 1;
    }
    std::printf("wharf-chat-naive: open http://127.0.0.1:%u/\n", static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    server.join();
    return 0;
}
