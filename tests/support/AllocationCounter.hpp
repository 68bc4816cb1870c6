#pragma once
// Counts the heap allocations (operator new, every thread) made while a CountAllocations
// lives. The replacement operators are in AllocationCounter.cpp; a binary that links this
// file counts, one that does not, does not.

#include <atomic>
#include <cstddef>

namespace wharf::test {

struct AllocationCounter {
    static std::atomic<bool> counting;
    static std::atomic<std::size_t> count;
};

class CountAllocations {
public:
    CountAllocations()
    {
        AllocationCounter::count.store(0);
        AllocationCounter::counting.store(true);
    }
    ~CountAllocations() { AllocationCounter::counting.store(false); }
    CountAllocations(const CountAllocations&) = delete;
    CountAllocations& operator=(const CountAllocations&) = delete;
    std::size_t count() const noexcept { return AllocationCounter::count.load(); }
};

}  // namespace wharf::test
