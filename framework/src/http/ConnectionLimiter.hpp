#pragma once
// The server's open connections against ConnectionLimits: in all (the acceptors pause at
// the bound and resume as connections close) and per remote address (a connection over it
// is closed at accept). A connection is counted from accept (HttpSession's constructor)
// to the end of its socket (HttpSession's destructor, or after an upgrade WsConnection's).

#include <wharf/Log.hpp>
#include <wharf/Server.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace wharf::detail {

class ConnectionLimiter {
public:
    /// Before start (no connection yet).
    void configure(const ConnectionLimits& limits)
    {
        max_ = limits.maxConnections;
        perAddress_ = limits.maxConnectionsPerAddress;
    }

    /// The address part of "ip:port" / "[v6]:port" (what HttpSession and Request keep).
    static std::string_view addressOf(std::string_view remote) noexcept
    {
        const auto colon = remote.rfind(':');
        return colon == std::string_view::npos ? remote : remote.substr(0, colon);
    }

    bool limitsAddresses() const noexcept { return perAddress_ != 0; }

    /// True when `remote` ("ip:port") already has its bound of connections open: the new
    /// one is to be closed at once. Logs the first refusal of an episode per address.
    bool overAddressLimit(std::string_view remote)
    {
        if (!perAddress_) return false;
        std::size_t open = 0;
        {
            std::lock_guard lock(mutex_);
            const auto it = addresses_.find(std::string(addressOf(remote)));
            if (it == addresses_.end() || it->second.open < perAddress_) return false;
            if (it->second.refused++ > 0) return true;  // logged already this episode
            open = it->second.open;
        }
        log::warn("{} connections open from {} (ConnectionLimits::maxConnectionsPerAddress): closing its new "
                  "connections until one closes",
                  open, addressOf(remote));
        return true;
    }

    void opened(std::string_view remote)
    {
        open_.fetch_add(1);
        if (!perAddress_) return;
        std::lock_guard lock(mutex_);
        ++addresses_[std::string(addressOf(remote))].open;
    }

    void closed(std::string_view remote)
    {
        const std::size_t left = open_.fetch_sub(1) - 1;
        std::size_t refused = 0;
        if (perAddress_) {
            std::lock_guard lock(mutex_);
            const auto it = addresses_.find(std::string(addressOf(remote)));
            if (it != addresses_.end() && --it->second.open == 0) {
                refused = it->second.refused;
                addresses_.erase(it);
            }
        }
        if (refused)
            log::info("{} connection(s) from {} were closed over ConnectionLimits::maxConnectionsPerAddress", refused,
                      addressOf(remote));
        // Sequentially consistent with pauseIfFull: either it sees this close, or this sees
        // its pause.
        if (!paused_.load()) return;
        std::vector<std::function<void()>> resume;
        std::optional<std::chrono::milliseconds> fullFor;
        std::size_t pauses = 0;
        {
            std::lock_guard lock(mutex_);
            if (left >= max_ || resume_.empty()) return;
            resume.swap(resume_);
            paused_.store(false);
            // The episode ends once there is room for a tenth more: under load the acceptor
            // pauses and resumes with every close, and that is one episode, not thousands.
            if (left <= max_ - std::max<std::size_t>(1, max_ / 10)) {
                fullFor = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - fullSince_);
                pauses = std::exchange(pauses_, 0);
            }
        }
        for (auto& r : resume) r();
        if (fullFor)
            log::info("open connections back to {}; accepting was paused {} time(s) in {} ms", left, pauses,
                      fullFor->count());
    }

    /// True (and `resume` kept for closed() to call) when maxConnections are open: the
    /// acceptor calling it stops accepting until then.
    bool pauseIfFull(std::function<void()> resume)
    {
        if (!max_ || open_.load(std::memory_order_relaxed) < max_) return false;
        bool episode = false;
        std::size_t open = 0;
        {
            std::lock_guard lock(mutex_);
            if (stopped_) return false;
            paused_.store(true);
            open = open_.load();
            if (open < max_) {  // one closed meanwhile, and saw no pause
                if (resume_.empty()) paused_.store(false);
                return false;
            }
            if (pauses_++ == 0) {
                episode = true;
                fullSince_ = Clock::now();
            }
            resume_.push_back(std::move(resume));
        }
        if (episode)
            log::warn("{} connections open (ConnectionLimits::maxConnections): not accepting until some close; new "
                      "connections wait in the listen backlog",
                      open);
        return true;
    }

    /// The acceptors are closing: paused ones are never resumed.
    void stop()
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        resume_.clear();
    }

    std::size_t open() const noexcept { return open_.load(std::memory_order_relaxed); }

private:
    using Clock = std::chrono::steady_clock;
    struct Address {
        std::size_t open = 0;
        std::size_t refused = 0;  // connections closed over the bound since the count left 0
    };

    std::size_t max_ = 0;         // 0: no bound
    std::size_t perAddress_ = 0;  // 0: no bound
    std::atomic<std::size_t> open_{0};
    std::atomic<bool> paused_{false};  // some acceptor waits in resume_
    std::mutex mutex_;
    std::vector<std::function<void()>> resume_;
    std::unordered_map<std::string, Address> addresses_;
    std::size_t pauses_ = 0;  // in the current episode (0: none)
    Clock::time_point fullSince_;
    bool stopped_ = false;
};

}  // namespace wharf::detail
