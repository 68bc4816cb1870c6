#pragma once
// Captures wharf's log lines for a test: installs a sink (and a level) on construction and
// restores the stderr sink and the previous level on destruction. waitFor blocks, with a
// timeout, until the captured lines satisfy a predicate.

#include <wharf/Log.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::test {

class LogCapture {
public:
    using Line = std::pair<log::Level, std::string>;

    explicit LogCapture(log::Level level = log::Level::Debug) : previous_(log::level())
    {
        log::setSink([this](log::Level l, std::string_view text) {
            {
                std::lock_guard lock(mutex_);
                lines_.emplace_back(l, std::string(text));
            }
            changed_.notify_all();
        });
        log::setLevel(level);
    }
    ~LogCapture()
    {
        log::setLevel(previous_);
        log::setSink({});
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    /// Lines at `level` that contain `text`.
    std::size_t count(log::Level level, std::string_view text) const
    {
        std::lock_guard lock(mutex_);
        return countLocked(level, text);
    }

    /// Waits until at least `n` lines at `level` contain `text`; false on timeout.
    bool waitFor(log::Level level, std::string_view text, std::size_t n = 1,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return countLocked(level, text) >= n; });
    }

    /// Waits until `pred(lines)` holds; false on timeout.
    bool waitUntil(const std::function<bool(const std::vector<Line>&)>& pred,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return pred(lines_); });
    }

    std::vector<Line> lines() const
    {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    std::size_t countLocked(log::Level level, std::string_view text) const
    {
        std::size_t n = 0;
        for (const auto& [l, line] : lines_)
            if (l == level && line.find(text) != std::string::npos) ++n;
        return n;
    }

    log::Level previous_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Line> lines_;
};

}  // namespace wharf::test
