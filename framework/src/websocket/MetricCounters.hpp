#pragma once
// The counters behind MetricsSnapshot (wharf/Metrics.hpp), one set per server
// (SessionHost::metrics). Counting is on the data path (every message in and out), so it
// takes no lock and shares no cache line between threads: the counters are striped, and
// a snapshot sums the stripes. A thread claims a slot of its own on its first count and
// gives it back when it ends; only the owner of slot i writes stripe i of any server, so
// its adds are a relaxed load and store, without a locked instruction (an atomic add
// costs ~6 ns, four of them ~3 % of a small echo). Threads beyond the owned slots share
// the last stripe, with atomic adds.

#include <wharf/Metrics.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace wharf {
class Request;
}

namespace wharf::detail {

class MetricCounters {
public:
    using Duration = std::chrono::steady_clock::duration;

    MetricCounters();

    void connectionAccepted() noexcept { add(slot::connectionsAccepted); }
    /// Data delivered to the listener: a whole message, or a fragment (`messageEnds`: its last).
    void dataReceived(std::size_t bytes, bool messageEnds) noexcept
    {
        add(slot::bytesReceived, bytes);
        if (messageEnds) add(slot::messagesReceived);
    }
    /// A data message a send accepted.
    void messageSent(std::size_t bytes) noexcept
    {
        add(slot::messagesSent);
        add(slot::bytesSent, bytes);
    }
    void sendRefused(Errc reason) noexcept
    {
        add(slot::sendsRefused + MetricsSnapshot::indexOf(countedSendRefusals, reason));
    }
    /// A send queue discarded with `bytes` in it (nothing when it was empty).
    void queueDropped(std::size_t bytes) noexcept
    {
        if (bytes == 0) return;
        add(slot::queuesDropped);
        add(slot::bytesDropped, bytes);
    }
    void sessionClosed(CloseStatus status) noexcept
    {
        add(slot::closes + MetricsSnapshot::indexOf(countedCloseStatuses, status));
    }
    /// The answer to `request`, counted when it asked for a WebSocket upgrade.
    void upgradeAnswered(const Request& request, int status) noexcept;
    /// An upgrade's 101 is written; the request's first byte came at `requestStart`.
    void upgradeWritten(std::chrono::steady_clock::time_point requestStart) noexcept
    {
        observe(slot::handshakeBuckets, std::chrono::steady_clock::now() - requestStart);
    }
    /// A TLS handshake that began at `start` ended (`ok`: successfully).
    void tlsHandshakeDone(std::chrono::steady_clock::time_point start, bool ok) noexcept
    {
        if (ok) observe(slot::tlsHandshakeBuckets, std::chrono::steady_clock::now() - start);
        else add(slot::tlsHandshakeFailures);
    }
    /// The topic registry's gauges (issue 12): +1 / -1 as topics and subscriptions come and go.
    void topicsChanged(std::int64_t delta) noexcept { add(slot::topics, static_cast<std::uint64_t>(delta)); }
    void subscribersChanged(std::int64_t delta) noexcept { add(slot::subscribers, static_cast<std::uint64_t>(delta)); }

    /// The sums of every stripe; the gauges that live elsewhere (open connections, queued
    /// bytes) are the caller's to fill.
    MetricsSnapshot snapshot() const noexcept;

private:
    // Where each value sits in a stripe. The arrays of MetricsSnapshot take one slot per
    // entry, their "other" included; a histogram takes its buckets, +Inf, then the sum (ns).
    struct slot {
        static constexpr std::size_t connectionsAccepted = 0, messagesReceived = 1, bytesReceived = 2,
                                     messagesSent = 3, bytesSent = 4, queuesDropped = 5, bytesDropped = 6,
                                     tlsHandshakeFailures = 7, upgradesAccepted = 8, topics = 9, subscribers = 10,
                                     upgradesRefused = 11,
                                     sendsRefused = upgradesRefused + upgradeRefusalStatuses.size() + 1,
                                     closes = sendsRefused + countedSendRefusals.size() + 1,
                                     handshakeBuckets = closes + countedCloseStatuses.size() + 1,
                                     tlsHandshakeBuckets = handshakeBuckets + durationBuckets.size() + 2,
                                     count = tlsHandshakeBuckets + durationBuckets.size() + 2;
    };
    struct alignas(64) Stripe {
        std::atomic<std::uint64_t> values[slot::count]{};
    };
public:
    static constexpr std::size_t stripes = 64;
    static constexpr std::size_t sharedSlot = stripes - 1;  // for threads that found no free slot

private:
    void add(std::size_t index, std::uint64_t n = 1) noexcept
    {
        std::size_t slot = threadSlot;
        if (slot == unclaimed) [[unlikely]]
            slot = claimSlot();
        auto& value = stripes_[slot].values[index];
        if (slot != sharedSlot) value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        else value.fetch_add(n, std::memory_order_relaxed);
    }
    void observe(std::size_t first, Duration d) noexcept;
    DurationHistogram histogram(std::size_t first) const noexcept;
    std::uint64_t sum(std::size_t index) const noexcept;
    static constexpr std::size_t unclaimed = SIZE_MAX;
    /// This thread's slot (constant-initialised: read without a TLS wrapper call).
    static constinit thread_local std::size_t threadSlot;
    /// Claims a free slot for this thread (or the shared one) until the thread ends.
    static std::size_t claimSlot() noexcept;
    friend struct SlotRelease;

    std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace wharf::detail
