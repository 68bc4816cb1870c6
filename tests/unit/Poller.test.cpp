// The readiness loop of plain WebSocket connections (detail/Poller.hpp): events reach
// registered targets, a target removed during a batch is not called again, and shutdown
// ends the targets still registered.

#include "detail/Poller.hpp"

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

using wharf::detail::Poller;

namespace {

/// One end of a socketpair, registered as a Poller target; counts what it is told.
struct PairTarget : Poller::Target, std::enable_shared_from_this<PairTarget> {
    int fds[2] = {-1, -1};  // [0] registered, [1] the peer
    int calls = 0;
    std::uint32_t events = 0;
    bool shutDown = false;
    std::shared_ptr<PairTarget> self;
    std::function<void()> onEvent;

    PairTarget() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0); }
    ~PairTarget()
    {
        if (fds[0] >= 0) ::close(fds[0]);
        ::close(fds[1]);
    }
    void onPollEvents(std::uint32_t e) override
    {
        ++calls;
        events |= e;
        if (onEvent) onEvent();
    }
    std::shared_ptr<void> onPollerShutdown() override
    {
        shutDown = true;
        ::close(fds[0]);
        fds[0] = -1;
        return std::move(self);
    }
    void poke() const { REQUIRE(::write(fds[1], "x", 1) == 1); }
};

void runFor(boost::asio::io_context& ioc, std::chrono::milliseconds d)
{
    ioc.restart();
    ioc.run_for(d);
}

}  // namespace

TEST_SUITE("poller") {

TEST_CASE("a registered descriptor is reported when data arrives, once per edge")
{
    boost::asio::io_context ioc;
    Poller poller(ioc, 1);
    auto t = std::make_shared<PairTarget>();
    REQUIRE(poller.add(t->fds[0], *t) == 0);
    runFor(ioc, std::chrono::milliseconds(50));
    // Writable at once (EPOLLOUT is registered too), nothing to read yet.
    CHECK(t->calls == 1);
    CHECK((t->events & EPOLLOUT) != 0);
    CHECK((t->events & EPOLLIN) == 0);

    t->events = 0;
    t->poke();
    runFor(ioc, std::chrono::milliseconds(50));
    CHECK(t->calls == 2);
    CHECK((t->events & EPOLLIN) != 0);

    // Edge-triggered: the unread byte does not make it ready again by itself.
    runFor(ioc, std::chrono::milliseconds(50));
    CHECK(t->calls == 2);
    poller.remove(t->fds[0], *t);
}

TEST_CASE("a target removed during a batch is not called for the events already taken")
{
    boost::asio::io_context ioc;
    Poller poller(ioc, 1);
    auto a = std::make_shared<PairTarget>();
    auto b = std::make_shared<PairTarget>();
    REQUIRE(poller.add(a->fds[0], *a) == 0);
    REQUIRE(poller.add(b->fds[0], *b) == 0);
    runFor(ioc, std::chrono::milliseconds(50));  // the initial "writable" events
    REQUIRE(a->calls == 1);
    REQUIRE(b->calls == 1);

    // Both become readable before the loop looks: one batch holds both events. Whichever
    // is handed out first removes the other, which must then not be called.
    a->onEvent = [&] { poller.remove(b->fds[0], *b); };
    b->onEvent = [&] { poller.remove(a->fds[0], *a); };
    a->poke();
    b->poke();
    runFor(ioc, std::chrono::milliseconds(50));
    CHECK(a->calls + b->calls == 3);
    // Targets must leave before they are destroyed (removing one twice is harmless).
    a->onEvent = b->onEvent = nullptr;
    poller.remove(a->fds[0], *a);
    poller.remove(b->fds[0], *b);
}

TEST_CASE("shutdown ends the targets still registered and drops their self-references")
{
    boost::asio::io_context ioc;
    Poller poller(ioc, 2);
    auto kept = std::make_shared<PairTarget>();
    auto owned = std::make_shared<PairTarget>();
    REQUIRE(poller.add(kept->fds[0], *kept) == 0);
    REQUIRE(poller.add(owned->fds[0], *owned) == 0);
    poller.remove(kept->fds[0], *kept);  // no longer registered: not ended
    owned->self = owned;                // owns itself, as an idle connection does
    std::weak_ptr<PairTarget> weak = owned;
    owned.reset();
    REQUIRE_FALSE(weak.expired());

    poller.shutdown();
    CHECK(weak.expired());
    CHECK_FALSE(kept->shutDown);
    CHECK(poller.add(kept->fds[0], *kept) != 0);  // the set is closed
}

}  // TEST_SUITE
