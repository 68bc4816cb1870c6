#pragma once
// The readiness loop of WebSocket connections, plain and TLS: one epoll set per server, its
// descriptors registered once, edge-triggered, for reading and writing. What a connection
// does with the events (the transport contract) is in detail/Transport.hpp.
//
// Why not asio's own reactor: per idle socket it keeps a descriptor state (~170 B) and a
// pending operation (~270 B), and every read costs a speculative recv that finds nothing
// (or an epoll_ctl to re-arm). Here an idle connection costs nothing in user space, a
// busy one one recv per wake-up, and the set itself is one asio wait on the epoll
// descriptor, so the server's threads and strands stay asio's.
//
// Linux only (epoll); the connections fall back to nothing else.

#include "websocket/SessionHost.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

namespace wharf::detail {

class Poller {
public:
    /// What a registered descriptor is: told of its events on the thread that reads the
    /// set, with the set's lock held. It must only hand the work to its own strand.
    /// A registered target owns itself (nothing else may keep an idle connection alive):
    /// it holds a reference to itself from add() until it calls remove(). At shutdown the
    /// Poller ends those that are still registered with onPollerShutdown().
    class Target {
    public:
        virtual void onPollEvents(std::uint32_t events) = 0;
        /// The server has stopped (its threads are gone): close the descriptor without
        /// calling remove(), and give up the reference to itself (returned, dropped later).
        virtual std::shared_ptr<void> onPollerShutdown() = 0;

    protected:
        ~Target() = default;

    private:
        friend class Poller;
        Target* prev_ = nullptr;  // in the Poller's list while registered (listMutex_)
        Target* next_ = nullptr;
    };

    /// `threads`: the io_context's thread count; with one, targets may run their work
    /// inline (dispatch), with more they should post it so other threads share the load.
    Poller(boost::asio::io_context& ioc, unsigned threads);
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;
    ~Poller();

    bool singleThreaded() const noexcept { return threads_ == 1; }

    /// Adds `fd` (non-blocking) for EPOLLIN | EPOLLOUT | EPOLLRDHUP, edge-triggered:
    /// readiness that exists already is reported at once. Returns the errno on failure.
    int add(int fd, Target& target);
    /// Removes `fd` before it is closed. Once this returns, `target` is never called
    /// again, also not for events already taken from the kernel: a target must call it
    /// before it is destroyed (or closes the descriptor, which may be reused).
    void remove(int fd, Target& target);
    /// After the server's threads have stopped: no more waiting; every target still
    /// registered is ended (onPollerShutdown).
    void shutdown();

private:
    void wait();
    void onReady();
    void unlink(Target& target);  // listMutex_ held

    unsigned threads_;
    boost::asio::posix::stream_descriptor epoll_;
    // Held while a batch of events is handed out, and by remove(): so a target being
    // removed is never called after remove() returns. Recursive: a target handled inline
    // may remove itself (or another) during the batch.
    std::recursive_mutex batchMutex_;
    std::mutex listMutex_;  // guards the list of targets (after batchMutex_)
    Target* first_ = nullptr;  // the registered targets (listMutex_)
    std::array<epoll_event, 256> events_{};
    int batchSize_ = 0;  // events_[cursor_ + 1, batchSize_) are still to be handed out
    int cursor_ = 0;
};

class FlushGroup;

/// The host of WebSocket connections on a Poller (detail/Transport.hpp): a server's state, or
/// a WebSocketClient's. Its Poller serves every connection of the host.
struct PolledHost : SessionHost {
    Poller poller;

    PolledHost(boost::asio::io_context& io, unsigned threads) : SessionHost(io), poller(io, threads) {}
    virtual ~PolledHost() = default;
    /// The FlushGroup of a connection's strand (WsConnection.hpp), if the host keeps them.
    virtual FlushGroup* flushGroupFor(const boost::asio::strand<boost::asio::io_context::executor_type>& strand)
    {
        (void)strand;
        return nullptr;
    }
};

}  // namespace wharf::detail
