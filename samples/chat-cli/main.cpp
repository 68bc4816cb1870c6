// wharf-chat-cli: a terminal client for the chat sample (wharf-chat).
//
//   wharf-chat-cli URL --name NAME [--ca FILE | --insecure] [--reconnect]
//
// Sends NAME first (the chat takes a client's first message as its name), then each line
// typed on stdin; prints every message that arrives on a line of its own. End of input
// closes the connection with 1000 and exits 0. When the server goes away it says so on
// stderr; with --reconnect it connects again (backoff with jitter) and sends NAME again,
// otherwise it exits 1. Lines typed while disconnected are not kept: they are dropped, and
// it says so.

#include <wharf/wharf.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace {

/// What main waits for: the end of input, or the server gone for good.
struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    wharf::Session session;     // the current connection's
    bool inputEnded = false;
    bool gone = false;          // the server went away and no reconnect follows
    bool closed = false;        // onClose of the current connection ran
};

class ChatClient : public wharf::WebSocketListener {
public:
    ChatClient(std::shared_ptr<Shared> shared, std::string name, bool reconnect)
        : shared_(std::move(shared)), name_(std::move(name)), reconnect_(reconnect)
    {
    }

    void onConnect(wharf::Session session) override
    {
        session.sendText(name_);  // the chat's first message is the name, again after a reconnect
        std::lock_guard lock(shared_->mutex);
        shared_->session = std::move(session);
        shared_->closed = false;
    }
    void onText(std::string_view message) override
    {
        fmt::print("{}\n", message);
        std::fflush(stdout);
    }
    void onError(const wharf::Error& error) override { fmt::print(stderr, "wharf-chat-cli: {}\n", error.what()); }
    void onClose(wharf::CloseStatus status, std::string_view reason) override
    {
        std::lock_guard lock(shared_->mutex);
        shared_->closed = true;
        if (shared_->inputEnded) return shared_->changed.notify_all();  // our own close
        fmt::print(stderr, "wharf-chat-cli: the server went away ({} {}){}\n", static_cast<int>(status), reason,
                   reconnect_ && status != wharf::CloseStatus::Normal ? "; reconnecting" : "");
        if (!reconnect_ || status == wharf::CloseStatus::Normal) shared_->gone = true;
        shared_->changed.notify_all();
    }

private:
    std::shared_ptr<Shared> shared_;
    std::string name_;
    bool reconnect_;
};

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"wharf-chat-cli: a terminal client for the wharf chat sample"};
    std::string url, name, ca;
    bool insecure = false, reconnect = false;
    app.add_option("url", url, "the chat's WebSocket URL (ws://localhost:8080/chat)")->required();
    app.add_option("--name", name, "your name in the chat")->required();
    auto* caOption = app.add_option("--ca", ca, "PEM file of the CA that signed the server's certificate");
    app.add_flag("--insecure", insecure, "do not verify the server's certificate (tests only)")->excludes(caOption);
    app.add_flag("--reconnect", reconnect, "connect again when the server goes away");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    wharf::WebSocketClient client;
    wharf::ClientTlsOptions tls;
    tls.caFile = ca;
    tls.insecureSkipVerify = insecure;
    client.setTlsOptions(tls);
    wharf::WebSocketPolicy policy;
    policy.idleTimeout = std::chrono::milliseconds::zero();  // a chat may be quiet for hours
    client.setPolicy(policy);
    try {
        client.start();
    } catch (const std::exception& e) {
        fmt::print(stderr, "wharf-chat-cli: {}\n", e.what());
        return 1;
    }

    auto shared = std::make_shared<Shared>();
    wharf::ClientUpgradeRequest request;
    request.reconnect.enabled = reconnect;
    request.reconnect.initialDelay = std::chrono::milliseconds(200);
    request.reconnect.maxDelay = std::chrono::seconds(5);
    request.reconnect.onAttemptFailed = [](std::error_code error, bool retrying) {
        fmt::print(stderr, "wharf-chat-cli: reconnect failed: {}{}\n", error.message(), retrying ? "" : "; giving up");
    };
    try {
        client.connect(std::make_shared<ChatClient>(shared, name, reconnect), url, request).get();
    } catch (const wharf::UpgradeException& e) {
        fmt::print(stderr, "wharf-chat-cli: {}\n", e.failure().message);
        return 1;
    }

    // stdin is read on a thread of its own, so a server that goes away ends the program
    // even while no line is typed.
    std::thread([shared] {
        std::string line;
        while (std::getline(std::cin, line)) {
            wharf::Session session;
            {
                std::lock_guard lock(shared->mutex);
                session = shared->session;
            }
            if (!session.sendText(line)) fmt::print(stderr, "wharf-chat-cli: not connected; line dropped\n");
        }
        std::lock_guard lock(shared->mutex);
        shared->inputEnded = true;
        shared->changed.notify_all();
    }).detach();

    std::unique_lock lock(shared->mutex);
    shared->changed.wait(lock, [&] { return shared->inputEnded || shared->gone; });
    if (shared->gone) {
        lock.unlock();
        client.stop();
        std::fflush(stdout);
        std::_Exit(1);  // the stdin thread may still wait for a line
    }
    const auto session = shared->session;
    lock.unlock();
    session.close(wharf::CloseStatus::Normal, "bye");
    lock.lock();
    shared->changed.wait_for(lock, std::chrono::seconds(5), [&] { return shared->closed; });
    lock.unlock();
    client.stop();
    return 0;
}
