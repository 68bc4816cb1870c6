#pragma once
// A creator that makes a new RecordingListener per connection and keeps them in order of
// connection, so a test can wait for the listener of its i-th client.

#include "support/RecordingListener.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wharf::test {

class Recorders {
public:
    /// The creator to pass to addMapping.
    WebSocketCreator creator()
    {
        return [this](const UpgradeRequest&, UpgradeResponse&) {
            auto r = std::make_shared<RecordingListener>();
            std::lock_guard lock(mutex_);
            list_.push_back(r);
            return r;
        };
    }

    /// The listener of the i-th connection; fails the test if it does not appear in 5 s.
    std::shared_ptr<RecordingListener> at(std::size_t i)
    {
        for (int tries = 0; tries < 500; ++tries) {
            {
                std::lock_guard lock(mutex_);
                if (list_.size() > i) return list_[i];
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, not synchronising
        }
        FAIL("no connection reached the recorder");
        return nullptr;
    }

    /// Connections recorded so far.
    std::size_t size()
    {
        std::lock_guard lock(mutex_);
        return list_.size();
    }

private:
    std::mutex mutex_;
    std::vector<std::shared_ptr<RecordingListener>> list_;
};

}  // namespace wharf::test
