#include "detail/DeadlineWheel.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using wharf::detail::DeadlineWheel;
using Clock = DeadlineWheel::Clock;
using namespace std::chrono_literals;

namespace {

/// A node that records when it fired.
struct Timed {
    DeadlineWheel::Node node;
    std::string name;
    std::vector<std::string>* fired;

    Timed(std::string n, std::vector<std::string>& log) : name(std::move(n)), fired(&log)
    {
        node.owner = this;
        node.fire = [](void* owner) {
            auto* t = static_cast<Timed*>(owner);
            t->fired->push_back(t->name);
        };
    }
};

/// Runs the io_context (the wheel's timer) for `d`.
void runFor(boost::asio::io_context& ioc, Clock::duration d)
{
    ioc.restart();
    ioc.run_for(d);
}

constexpr auto turn = DeadlineWheel::tick * DeadlineWheel::slots;

}  // namespace

TEST_CASE("deadline wheel: deadlines fire in time, once, and only when due")
{
    boost::asio::io_context ioc;
    DeadlineWheel wheel(ioc);
    std::vector<std::string> fired;
    Timed soon("soon", fired), later("later", fired), none("none", fired);
    wheel.link(soon.node);
    wheel.link(later.node);
    wheel.link(none.node);
    const auto start = Clock::now();
    DeadlineWheel::set(soon.node, start + 100ms);
    DeadlineWheel::set(later.node, start + 400ms);

    runFor(ioc, 300ms);
    CHECK(fired == std::vector<std::string>{"soon"});
    runFor(ioc, 300ms);
    CHECK(fired == std::vector<std::string>{"soon", "later"});

    int visited = 0;
    wheel.forEach([&](void*) { ++visited; });
    CHECK(visited == 3);  // fired nodes stay linked, unscheduled
    wheel.unlink(soon.node);
    wheel.unlink(later.node);
    wheel.unlink(none.node);
}

TEST_CASE("deadline wheel: a deadline moved later does not fire at the old time; moved earlier, it does")
{
    boost::asio::io_context ioc;
    DeadlineWheel wheel(ioc);
    std::vector<std::string> fired;
    Timed a("a", fired), b("b", fired);
    wheel.link(a.node);
    wheel.link(b.node);
    const auto start = Clock::now();
    DeadlineWheel::set(a.node, start + 100ms);
    DeadlineWheel::set(a.node, start + 10s);     // later: lazily moved when its slot comes up
    DeadlineWheel::set(b.node, start + 10s);
    DeadlineWheel::set(b.node, start + 150ms);   // earlier: moved at once
    runFor(ioc, 400ms);
    CHECK(fired == std::vector<std::string>{"b"});
    DeadlineWheel::clear(b.node);
    wheel.unlink(a.node);
    wheel.unlink(b.node);
}

TEST_CASE("deadline wheel: a deadline more than one turn away is visited early but not fired")
{
    boost::asio::io_context ioc;
    DeadlineWheel wheel(ioc);
    std::vector<std::string> fired;
    Timed far("far", fired), near("near", fired);
    wheel.link(far.node);
    wheel.link(near.node);
    const auto start = Clock::now();
    // Lands in the slot visited about 100 ms from now, two turns early.
    DeadlineWheel::set(far.node, start + 2 * turn + 100ms);
    DeadlineWheel::set(near.node, start + 100ms);
    runFor(ioc, 400ms);
    CHECK(fired == std::vector<std::string>{"near"});
    bool farScheduled = far.node.visit.load() != DeadlineWheel::Node::never;
    CHECK(farScheduled);
    wheel.unlink(far.node);
    wheel.unlink(near.node);
}

TEST_CASE("deadline wheel: a cleared deadline does not fire")
{
    boost::asio::io_context ioc;
    DeadlineWheel wheel(ioc);
    std::vector<std::string> fired;
    Timed a("a", fired);
    wheel.link(a.node);
    DeadlineWheel::set(a.node, Clock::now() + 100ms);
    DeadlineWheel::clear(a.node);
    runFor(ioc, 300ms);
    CHECK(fired.empty());
    wheel.unlink(a.node);
}
