// The integration tests' replacement operator new: counts while a CountAllocations lives
// (support/AllocationCounter.hpp), then allocates with malloc as usual.

#include "support/AllocationCounter.hpp"

#include <cstdlib>
#include <new>

std::atomic<bool> wharf::test::AllocationCounter::counting{false};
std::atomic<std::size_t> wharf::test::AllocationCounter::count{0};

namespace {

void* allocate(std::size_t size)
{
    if (wharf::test::AllocationCounter::counting.load(std::memory_order_relaxed))
        wharf::test::AllocationCounter::count.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}

void* allocateAligned(std::size_t size, std::align_val_t align)
{
    if (wharf::test::AllocationCounter::counting.load(std::memory_order_relaxed))
        wharf::test::AllocationCounter::count.fetch_add(1, std::memory_order_relaxed);
    const auto a = static_cast<std::size_t>(align);
    if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t align) { return allocateAligned(size, align); }
void* operator new[](std::size_t size, std::align_val_t align) { return allocateAligned(size, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
