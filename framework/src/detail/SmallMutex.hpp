#pragma once
// A mutex in four bytes (std::mutex takes forty): one per WebSocket connection adds up.
// Uncontended lock and unlock are one atomic operation each; a contended lock sleeps in
// the kernel (futex, through std::atomic::wait) instead of spinning. The classic
// three-state design (0 free, 1 locked, 2 locked with waiters; Drepper, "Futexes Are
// Tricky", mutex 3).

#include <atomic>
#include <cstdint>

namespace wharf::detail {

class SmallMutex {
public:
    void lock() noexcept
    {
        std::uint32_t c = 0;
        if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
        if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
        while (c != 0) {
            state_.wait(2, std::memory_order_relaxed);
            c = state_.exchange(2, std::memory_order_acquire);
        }
    }
    bool try_lock() noexcept
    {
        std::uint32_t c = 0;
        return state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed);
    }
    void unlock() noexcept
    {
        if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
    }

private:
    std::atomic<std::uint32_t> state_{0};
};

}  // namespace wharf::detail
