// The striped counters behind MetricsSnapshot (see MetricCounters.hpp).
#include "websocket/MetricCounters.hpp"

#include "websocket/Http11Handshake.hpp"

namespace wharf::detail {

MetricCounters::MetricCounters() : stripes_(std::make_unique<Stripe[]>(stripes)) {}

namespace {

// Bit i: slot i has an owner thread. The release when a thread ends and the acquire of
// the next claim make the next owner see every value the last one stored.
std::atomic<std::uint64_t> claimedSlots{0};
static_assert(MetricCounters::sharedSlot < 64, "one bit per owned slot");

}  // namespace

/// Gives this thread's slot back when the thread ends; what the thread counts after that
/// (from a later thread_local's destructor) goes to the shared stripe.
struct SlotRelease {
    std::size_t slot = MetricCounters::sharedSlot;
    ~SlotRelease()
    {
        MetricCounters::threadSlot = MetricCounters::sharedSlot;
        if (slot != MetricCounters::sharedSlot) claimedSlots.fetch_and(~(std::uint64_t{1} << slot), std::memory_order_release);
    }
};

constinit thread_local std::size_t MetricCounters::threadSlot = MetricCounters::unclaimed;

std::size_t MetricCounters::claimSlot() noexcept
{
    thread_local SlotRelease release;
    std::uint64_t claimed = claimedSlots.load(std::memory_order_relaxed);
    for (;;) {
        std::size_t free = 0;
        while (free < sharedSlot && (claimed >> free & 1)) ++free;
        if (free == sharedSlot) break;
        if (claimedSlots.compare_exchange_weak(claimed, claimed | std::uint64_t{1} << free, std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
            release.slot = free;
            break;
        }
    }
    return threadSlot = release.slot;
}

void MetricCounters::upgradeAnswered(const Request& request, int status) noexcept
{
    if (!asksForWebSocket(request)) return;
    if (status == 101) add(slot::upgradesAccepted);
    else add(slot::upgradesRefused + MetricsSnapshot::indexOf(upgradeRefusalStatuses, status));
}

void MetricCounters::observe(std::size_t first, Duration d) noexcept
{
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t bucket = 0;
    while (bucket < durationBuckets.size() && seconds > durationBuckets[bucket]) ++bucket;
    add(first + bucket);  // (bucket == size(): only in +Inf)
    add(first + durationBuckets.size() + 1, static_cast<std::uint64_t>(std::chrono::nanoseconds(d).count()));
}

std::uint64_t MetricCounters::sum(std::size_t index) const noexcept
{
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < stripes; ++s) total += stripes_[s].values[index].load(std::memory_order_relaxed);
    return total;
}

DurationHistogram MetricCounters::histogram(std::size_t first) const noexcept
{
    DurationHistogram h;
    std::uint64_t running = 0;
    for (std::size_t b = 0; b < durationBuckets.size(); ++b) h.cumulative[b] = running += sum(first + b);
    h.count = running + sum(first + durationBuckets.size());
    h.sumSeconds = static_cast<double>(sum(first + durationBuckets.size() + 1)) / 1e9;
    return h;
}

MetricsSnapshot MetricCounters::snapshot() const noexcept
{
    MetricsSnapshot s;
    s.topics = sum(slot::topics);
    s.subscribers = sum(slot::subscribers);
    s.connectionsAcceptedTotal = sum(slot::connectionsAccepted);
    s.upgradesAcceptedTotal = sum(slot::upgradesAccepted);
    for (std::size_t i = 0; i < s.upgradesRefusedTotal.size(); ++i) s.upgradesRefusedTotal[i] = sum(slot::upgradesRefused + i);
    s.messagesReceivedTotal = sum(slot::messagesReceived);
    s.messagesSentTotal = sum(slot::messagesSent);
    s.bytesReceivedTotal = sum(slot::bytesReceived);
    s.bytesSentTotal = sum(slot::bytesSent);
    for (std::size_t i = 0; i < s.sendsRefusedTotal.size(); ++i) s.sendsRefusedTotal[i] = sum(slot::sendsRefused + i);
    s.sendQueuesDroppedTotal = sum(slot::queuesDropped);
    s.bytesDroppedTotal = sum(slot::bytesDropped);
    for (std::size_t i = 0; i < s.closesTotal.size(); ++i) s.closesTotal[i] = sum(slot::closes + i);
    s.tlsHandshakeFailuresTotal = sum(slot::tlsHandshakeFailures);
    s.handshakeSeconds = histogram(slot::handshakeBuckets);
    s.tlsHandshakeSeconds = histogram(slot::tlsHandshakeBuckets);
    return s;
}

}  // namespace wharf::detail
