#pragma once
// A listener that records every event (Jetty's EventSocket), for tests to wait on.

#include <wharf/wharf.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace wharf::test {

class RecordingListener : public WebSocketListener {
public:
    struct Events {
        bool connected = false;
        std::vector<std::string> texts;
        std::vector<std::string> binaries;
        std::vector<Error> errors;
        std::optional<CloseStatus> closeStatus;
        std::string closeReason;
        int closeCount = 0;
        int drains = 0;
        std::vector<std::string> order;  // "connect", "text", "binary", "error", "drain", "close"
        bool concurrent = false;         // two callbacks overlapped
    };

    void onConnect(Session session) override
    {
        enter();
        record([&](Events& e) { e.connected = true; e.order.push_back("connect"); session_ = session; });
        if (onConnectHook) onConnectHook(session);
        leave();
    }
    void onText(std::string_view message) override
    {
        enter();
        record([&](Events& e) { e.texts.emplace_back(message); e.order.push_back("text"); });
        if (onTextHook) onTextHook(session_, message);
        leave();
    }
    void onBinary(std::span<const std::byte> data) override
    {
        enter();
        record([&](Events& e) {
            e.binaries.emplace_back(reinterpret_cast<const char*>(data.data()), data.size());
            e.order.push_back("binary");
        });
        leave();
    }
    void onClose(CloseStatus status, std::string_view reason) override
    {
        enter();
        record([&](Events& e) {
            e.closeStatus = status;
            e.closeReason = std::string(reason);
            ++e.closeCount;
            e.order.push_back("close");
        });
        leave();
    }
    void onError(const Error& error) override
    {
        enter();
        record([&](Events& e) { e.errors.push_back(error); e.order.push_back("error"); });
        leave();
    }
    void onDrain() override
    {
        enter();
        record([&](Events& e) { ++e.drains; e.order.push_back("drain"); });
        if (onDrainHook) onDrainHook(session_);
        leave();
    }

    /// Waits until `pred(events)` holds; false on timeout.
    bool waitFor(const std::function<bool(const Events&)>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return pred(events_); });
    }
    Events snapshot()
    {
        std::lock_guard lock(mutex_);
        return events_;
    }
    Session session()
    {
        std::lock_guard lock(mutex_);
        return session_;
    }

    std::function<void(Session&, std::string_view)> onTextHook;
    std::function<void(Session&)> onConnectHook;
    std::function<void(Session&)> onDrainHook;

private:
    template <class F>
    void record(F&& f)
    {
        {
            std::lock_guard lock(mutex_);
            f(events_);
        }
        cv_.notify_all();
    }
    void enter()
    {
        if (inside_.exchange(true)) {
            std::lock_guard lock(mutex_);
            events_.concurrent = true;
        }
    }
    void leave() { inside_.store(false); }

    std::mutex mutex_;
    std::condition_variable cv_;
    Events events_;
    Session session_;
    std::atomic<bool> inside_{false};
};

}  // namespace wharf::test
