#include <wharf/Server.hpp>

#include "detail/Format.hpp"
#include "detail/PlainConnection.hpp"
#include "detail/ServerState.hpp"
#include "detail/TlsConnection.hpp"

#include <wharf/Log.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <future>
#include <stdexcept>
#include <thread>

namespace wharf {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string describeBindError(const ServerConnector& c, const boost::system::error_code& ec)
{
    if (ec == net::error::address_in_use)
        return fmt::format("port {} on {} is already in use (EADDRINUSE)", c.port, c.host);
    if (ec == net::error::access_denied)
        return fmt::format("not allowed to bind port {} on {} (EACCES): ports below 1024 need privileges", c.port,
                           c.host);
    if (ec == boost::system::errc::address_not_available)
        return fmt::format("cannot bind {}:{}: the address is not on this machine (EADDRNOTAVAIL)", c.host, c.port);
    return fmt::format("cannot listen on {}:{}: {}", c.host, c.port, ec.message());
}

}  // namespace

struct Server::Impl {
    struct Listener {
        ServerConnector config;
        std::unique_ptr<tcp::acceptor> acceptor;
        std::unique_ptr<net::steady_timer> retry;  // after EMFILE and friends
        std::shared_ptr<detail::TlsContext> tls;
        std::uint16_t port = 0;
        tcp::endpoint peer;  // of the accept in progress
        // An episode of failing accepts (EMFILE ...): logged when it starts and when it ends.
        std::size_t failedAccepts = 0;
        std::chrono::steady_clock::time_point failingSince;
    };

    std::vector<ServerConnector> connectors;
    unsigned threads = 0;
    std::shared_ptr<Handler> handler;
    HttpLimits limits;
    WebSocketMemoryLimits memoryLimits;
    std::chrono::milliseconds stopTimeout = defaults::stopTimeout;

    std::unique_ptr<net::io_context> ioc;
    std::shared_ptr<detail::ServerState> state;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::vector<Listener> listeners;
    std::vector<std::thread> pool;

    bool stopAtShutdown = false;
    std::unique_ptr<net::signal_set> signals;
    std::atomic<bool> signalled{false};  // SIGINT/SIGTERM arrived; join() stops the server

    std::mutex mutex;  // guards running/stopped transitions
    std::condition_variable stoppedCv;
    bool running = false;
    bool stopped = true;

    void accept(Listener& l)
    {
        // The peer's address comes with accept (no getpeername per connection).
        l.acceptor->async_accept(state->strands.next(), l.peer, [this, &l](const boost::system::error_code& ec, tcp::socket s) {
            if (ec == net::error::operation_aborted || !l.acceptor->is_open()) return;
            if (ec) return acceptFailed(l, ec);
            if (l.failedAccepts) acceptWorks(l);
            if (l.tls) {
                detail::startTlsConnection(std::move(s), l.peer, state, l.tls);
                // At the connector's bound of handshakes in progress: wait for one to finish
                // (the kernel's backlog holds what arrives meanwhile).
                if (detail::pauseAccepting(*l.tls, [this, &l] {
                        net::post(l.acceptor->get_executor(), [this, &l] {
                            if (l.acceptor->is_open()) accept(l);
                        });
                    }))
                    return;
            } else {
                detail::startPlainConnection(std::move(s), l.peer, state);
            }
            accept(l);
        });
    }

    // EMFILE/ENFILE/ENOBUFS: back off instead of spinning, keep serving the rest. One
    // warning when the episode starts and one line when it ends, not one per retry.
    void acceptFailed(Listener& l, const boost::system::error_code& ec)
    {
        if (l.failedAccepts++ == 0) {
            l.failingSince = std::chrono::steady_clock::now();
            log::warn("accept on {}:{} failed: {}; retrying every 100 ms", l.config.host, l.port, ec);
        } else {
            log::debug("accept on {}:{} failed again: {}", l.config.host, l.port, ec);
        }
        l.retry->expires_after(std::chrono::milliseconds(100));
        l.retry->async_wait([this, &l](const boost::system::error_code& e) {
            if (!e && l.acceptor->is_open()) accept(l);
        });
    }

    void acceptWorks(Listener& l)
    {
        const auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                  l.failingSince);
        log::info("accept on {}:{} works again after {} failed attempt(s) in {} ms", l.config.host, l.port,
                  l.failedAccepts, lasted.count());
        l.failedAccepts = 0;
    }

    void bind(Listener& l)
    {
        boost::system::error_code ec;
        const auto address = net::ip::make_address(l.config.host == "localhost" ? "127.0.0.1" : l.config.host, ec);
        if (ec) throw std::runtime_error(fmt::format("cannot listen on \"{}\": not an IP address", l.config.host));
        const tcp::endpoint endpoint(address, l.config.port);
        // Acceptors are not thread-safe: the acceptor, its retry timer and stop()'s close
        // all run on one strand (a race TSan found between accept and close).
        const auto strand = net::make_strand(*ioc);
        l.acceptor = std::make_unique<tcp::acceptor>(strand);
        l.retry = std::make_unique<net::steady_timer>(strand);
        l.acceptor->open(endpoint.protocol(), ec);
        if (!ec) l.acceptor->set_option(net::socket_base::reuse_address(true), ec);
        if (!ec && address.is_v6()) l.acceptor->set_option(net::ip::v6_only(false), ec);
        // Accepted sockets inherit TCP_NODELAY on Linux: set once here rather than per connection.
        if (!ec) {
            boost::system::error_code ignored;
            l.acceptor->set_option(tcp::no_delay(true), ignored);
        }
        if (!ec) l.acceptor->bind(endpoint, ec);
        if (!ec) l.acceptor->listen(net::socket_base::max_listen_connections, ec);
        if (ec) throw std::runtime_error(describeBindError(l.config, ec));
        l.port = l.acceptor->local_endpoint().port();
        if (l.tls) detail::setConnectorName(*l.tls, fmt::format("{}:{}", l.config.host, l.port));
    }
};

Server::Server() : impl_(std::make_unique<Impl>()) {}

Server::Server(std::uint16_t port) : Server()
{
    ServerConnector c;
    c.port = port;
    addConnector(std::move(c));
}

Server::~Server()
{
    try {
        stop();
    } catch (...) {
    }
}

void Server::addConnector(ServerConnector connector) { impl_->connectors.push_back(std::move(connector)); }
void Server::setThreads(unsigned threads) { impl_->threads = threads; }
void Server::setHandler(std::shared_ptr<Handler> handler) { impl_->handler = std::move(handler); }
void Server::setHttpLimits(const HttpLimits& limits) { impl_->limits = limits; }
void Server::setWebSocketMemoryLimits(const WebSocketMemoryLimits& limits) { impl_->memoryLimits = limits; }
void Server::setStopTimeout(std::chrono::milliseconds timeout) { impl_->stopTimeout = timeout; }
void Server::setStopAtShutdown(bool stop) { impl_->stopAtShutdown = stop; }

void Server::start()
{
    std::lock_guard lock(impl_->mutex);
    if (impl_->running) throw std::logic_error("Server::start(): the server is already running");
    if (impl_->connectors.empty()) throw std::invalid_argument("Server::start(): no connector (addConnector first)");
    const unsigned threads = impl_->threads ? impl_->threads : std::max(1u, std::thread::hardware_concurrency());
    impl_->ioc = std::make_unique<net::io_context>(static_cast<int>(threads));
    impl_->state = std::make_shared<detail::ServerState>(*impl_->ioc, threads);
    impl_->state->handler = impl_->handler;
    impl_->state->limits = impl_->limits;
    impl_->state->sendBudget.limit = impl_->memoryLimits.maxQueuedBytes;
    impl_->state->receiveBudget.limit = impl_->memoryLimits.maxPartialMessageBytes;
    impl_->listeners.clear();
    impl_->listeners.reserve(impl_->connectors.size());
    try {
        for (const auto& c : impl_->connectors) {
            auto& l = impl_->listeners.emplace_back();
            l.config = c;
            if (c.ssl) l.tls = detail::makeTlsContext(*c.ssl);  // throws naming the file and problem
            impl_->bind(l);
        }
    } catch (...) {
        impl_->listeners.clear();  // nothing stays bound
        impl_->state.reset();
        impl_->ioc.reset();
        throw;
    }
    for (auto& l : impl_->listeners) {
        impl_->accept(l);
        log::info("listening on {}://{}:{}", l.tls ? "https" : "http", l.config.host, l.port);
    }
    if (impl_->stopAtShutdown) {
        // The handler only raises a flag: stop() joins the server's threads, so it runs in
        // join(), never on a server thread.
        impl_->signalled = false;
        impl_->signals = std::make_unique<net::signal_set>(*impl_->ioc, SIGINT, SIGTERM);
        impl_->signals->async_wait([impl = impl_.get()](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            log::info("{}: stopping gracefully", signal == SIGINT ? "SIGINT" : "SIGTERM");
            impl->signalled = true;
            impl->stoppedCv.notify_all();
        });
    }
    impl_->work.emplace(impl_->ioc->get_executor());
    for (unsigned i = 0; i < threads; ++i)
        impl_->pool.emplace_back([ioc = impl_->ioc.get()] {
            for (;;) {
                try {
                    ioc->run();
                    return;
                } catch (const std::exception& e) {
                    log::error("uncaught exception on a server thread: {}", e.what());
                }
            }
        });
    impl_->running = true;
    impl_->stopped = false;
}

void Server::join()
{
    std::unique_lock lock(impl_->mutex);
    while (!impl_->stopped) {
        if (impl_->signalled.exchange(false)) {
            lock.unlock();
            stop();
            lock.lock();
            continue;
        }
        // Polling as well: the signal handler cannot take the mutex (stop() may hold it
        // while it joins that very thread), so its notify may come before this wait.
        impl_->stoppedCv.wait_for(lock, std::chrono::milliseconds(100));
    }
}

void Server::stop()
{
    std::unique_lock lock(impl_->mutex);
    if (!impl_->running) return;
    impl_->running = false;
    auto& state = *impl_->state;
    state.stopping.store(true);

    // 1. No new connections.
    for (auto& l : impl_->listeners) {
        std::promise<void> closed;
        net::post(l.acceptor->get_executor(), [&] {
            boost::system::error_code ec;
            l.acceptor->close(ec);
            l.retry->cancel();
            if (l.tls) detail::stopAccepting(*l.tls);  // a paused acceptor is never resumed
            closed.set_value();
        });
        closed.get_future().wait();
    }

    // 2. Close every session with 1001 and idle HTTP connections; let queues drain.
    for (auto& c : state.snapshot()) c->gracefulClose();
    const auto deadline = std::chrono::steady_clock::now() + impl_->stopTimeout;
    while (state.liveCount() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));

    // 3. Whatever is left is closed now. (Scoped: the last reference to a connection must
    // not outlive the io_context, whose strand service its strand needs to unregister.)
    {
        const auto left = state.snapshot();
        if (!left.empty()) log::info("stop: closing {} connection(s) that did not finish in time", left.size());
        for (auto& c : left) c->forceClose();
    }
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (state.liveCount() > 0 && std::chrono::steady_clock::now() < hard)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));

    impl_->work.reset();
    impl_->ioc->stop();
    for (auto& t : impl_->pool)
        if (t.joinable()) t.join();
    impl_->pool.clear();
    impl_->signals.reset();  // restores the signals' default dispositions
    impl_->listeners.clear();
    state.poller.shutdown();  // before the io_context goes (connections may outlive state)
    impl_->state.reset();
    impl_->ioc.reset();  // destroys whatever handlers were still queued
    impl_->stopped = true;
    impl_->stoppedCv.notify_all();
    log::info("server stopped");
}

bool Server::isRunning() const noexcept
{
    std::lock_guard lock(impl_->mutex);
    return impl_->running;
}

std::uint16_t Server::port(std::size_t index) const
{
    std::lock_guard lock(impl_->mutex);
    if (index >= impl_->listeners.size())
        throw std::out_of_range(fmt::format("Server::port({}): the server has {} bound connector(s)", index,
                                            impl_->listeners.size()));
    return impl_->listeners[index].port;
}

std::size_t Server::sessionCount() const noexcept
{
    std::lock_guard lock(impl_->mutex);
    return impl_->state ? impl_->state->webSocketCount.load() : 0;
}

}  // namespace wharf
