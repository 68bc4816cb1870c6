#pragma once
// The deadlines of every WebSocket connection of a server (idle, message and close
// timeouts, lingering close) on one hashed timing wheel, instead of a steady_timer per
// connection: an idle connection holds no timer and no pending wait, and nothing is armed
// or cancelled per connection.
//
// The wheel has `slots` lists, one per `tick`; a node sits in the list of the tick its
// deadline falls in (modulo the wheel's turn), or in the unscheduled list when it has no
// deadline. Each tick visits one slot: a deadline that passed fires, a later one (a
// deadline beyond one turn, or one the owner moved later) is put where it now belongs.
// Moving a deadline later is one atomic store: the node is moved lazily when its old
// slot comes up; only a deadline earlier than the node's slot takes the lock. So the
// work per tick is the nodes of one slot, not every connection (the sweep this replaced
// looked at all of them 20 times a second: 2.5 % of a core at 10,000 idle connections).
// Deadlines fire up to one tick late.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <mutex>

namespace wharf::detail {

class DeadlineWheel {
public:
    using Clock = std::chrono::steady_clock;
    using Rep = Clock::rep;
    static constexpr auto tick = std::chrono::milliseconds(50);
    static constexpr std::size_t slots = 512;  // one turn: 25.6 s

    /// Embedded in each connection; linked while the connection lives.
    struct Node {
        static constexpr Rep never = LLONG_MAX;
        Node* prev = nullptr;  // in one list of the wheel while linked
        Node* next = nullptr;
        std::atomic<Rep> due{never};
        /// When the node's slot is visited next (never: unscheduled). Written under the lock.
        std::atomic<Rep> visit{never};
        DeadlineWheel* wheel = nullptr;
        /// Called with the wheel's lock held once `due` has passed (after resetting it to
        /// never). Must only post work: never block, never call back into the wheel.
        void (*fire)(void* owner) = nullptr;
        void* owner = nullptr;
    };

    explicit DeadlineWheel(boost::asio::io_context& ioc) : timer_(ioc)
    {
        for (auto& s : slots_) s.prev = s.next = &s;
        unscheduled_.prev = unscheduled_.next = &unscheduled_;
    }
    DeadlineWheel(const DeadlineWheel&) = delete;
    DeadlineWheel& operator=(const DeadlineWheel&) = delete;

    void link(Node& n)
    {
        std::lock_guard lock(mutex_);
        if (n.prev) return;
        n.wheel = this;
        place(n, n.due.load());
    }
    void unlink(Node& n)
    {
        std::lock_guard lock(mutex_);
        if (!n.prev) return;
        detach(n);
    }
    /// Calls f(owner) for every linked node, with the lock held (owners being destroyed
    /// wait in unlink(), so each is intact; f must not call back into the wheel).
    template <class F>
    void forEach(F&& f)
    {
        std::lock_guard lock(mutex_);
        auto walk = [&](Node& head) {
            for (Node* n = head.next; n != &head; n = n->next) f(n->owner);
        };
        for (auto& s : slots_) walk(s);
        walk(unscheduled_);
    }

    /// Sets or clears the deadline of a linked node (its owner's thread only). Later than
    /// the node's slot: a store, the node moves when its slot comes up. Earlier: the node
    /// moves now.
    static void set(Node& n, Clock::time_point at)
    {
        const Rep due = at.time_since_epoch().count();
        // Sequentially consistent with the visit in place(): either the wheel sees this
        // deadline when it places the node, or this sees where it was placed.
        n.due.store(due);
        if (due < n.visit.load() && n.wheel) n.wheel->reschedule(n);
    }
    static void clear(Node& n) { n.due.store(Node::never, std::memory_order_relaxed); }

private:
    static constexpr Rep tickRep = std::chrono::duration_cast<Clock::duration>(tick).count();
    static Rep now() { return Clock::now().time_since_epoch().count(); }

    void reschedule(Node& n)
    {
        std::lock_guard lock(mutex_);
        if (!n.prev) return;
        detach(n);
        place(n, n.due.load());
    }

    /// Out of its list (lock held).
    void detach(Node& n)
    {
        if (n.visit.load(std::memory_order_relaxed) != Node::never) {
            --scheduled_;
            n.visit.store(Node::never);
        }
        n.prev->next = n.next;
        n.next->prev = n.prev;
        n.prev = n.next = nullptr;
    }
    static void pushFront(Node& head, Node& n)
    {
        n.prev = &head;
        n.next = head.next;
        head.next->prev = &n;
        head.next = &n;
    }

    /// Into the list for `due` (lock held, `n` in no list).
    void place(Node& n, Rep due)
    {
        if (due == Node::never) {
            n.visit.store(Node::never);
            pushFront(unscheduled_, n);
            return;
        }
        if (!armed_) {
            cursor_ = now() / tickRep;  // nothing was scheduled: the wheel starts at this tick
            arm();
        }
        // The first tick at or after the cursor whose slot is due's: never after due, so a
        // node is never visited late, only (beyond one turn) early.
        const Rep at = std::max(due / tickRep, cursor_);
        const Rep first = cursor_ + (at - cursor_) % static_cast<Rep>(slots);
        n.visit.store(first * tickRep);
        pushFront(slots_[static_cast<std::size_t>(first % static_cast<Rep>(slots))], n);
        ++scheduled_;
    }

    void arm()
    {
        armed_ = true;
        timer_.expires_after(tick);
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) turn();
        });
    }

    void turn()
    {
        const Rep t = now();
        std::lock_guard lock(mutex_);
        // Take the lists of every tick up to now (all of them after a long stall), then
        // move the cursor past now: what is placed again lands after it.
        Node due;
        due.prev = due.next = &due;
        const Rep last = t / tickRep;
        const Rep count = std::min<Rep>(last - cursor_ + 1, static_cast<Rep>(slots));
        for (Rep i = 0; i < count; ++i) {
            Node& s = slots_[static_cast<std::size_t>((cursor_ + i) % static_cast<Rep>(slots))];
            while (s.next != &s) {
                Node& n = *s.next;
                detach(n);
                pushFront(due, n);
            }
        }
        cursor_ = std::max(cursor_, last + 1);
        while (due.next != &due) {
            Node& n = *due.next;
            detach(n);
            Rep d = n.due.load();
            // A deadline set meanwhile by the owner wins over this expiry.
            if (d <= t && n.due.compare_exchange_strong(d, Node::never)) {
                place(n, Node::never);
                n.fire(n.owner);
            } else {
                place(n, n.due.load());
            }
        }
        if (scheduled_ > 0) arm();
        else armed_ = false;  // the next place() arms it
    }

    std::mutex mutex_;
    std::array<Node, slots> slots_;
    Node unscheduled_;
    std::size_t scheduled_ = 0;  // nodes in slots_
    Rep cursor_ = 0;             // the next tick to visit
    bool armed_ = false;
    boost::asio::steady_timer timer_;  // guarded by mutex_ (place() arms it from any thread)
};

}  // namespace wharf::detail
