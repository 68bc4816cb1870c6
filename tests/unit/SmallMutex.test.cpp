// detail::SmallMutex: the four-byte lock of each connection's send queue.

#include "detail/SmallMutex.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <thread>
#include <vector>

using wharf::detail::SmallMutex;

TEST_SUITE("small mutex") {

TEST_CASE("is four bytes and excludes: contended increments are never lost")
{
    static_assert(sizeof(SmallMutex) == 4);
    SmallMutex m;
    long counter = 0;  // plain: only the lock orders the increments
    constexpr int threads = 4;
    constexpr int each = 50000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                std::lock_guard lock(m);
                ++counter;
            }
        });
    for (auto& th : pool) th.join();
    CHECK(counter == long{threads} * each);
}

TEST_CASE("try_lock fails while held and succeeds after unlock")
{
    SmallMutex m;
    m.lock();
    bool got = true;
    std::thread([&] { got = m.try_lock(); }).join();
    CHECK_FALSE(got);
    m.unlock();
    CHECK(m.try_lock());
    m.unlock();
}

}  // TEST_SUITE
