#include <wharf/Server.hpp>

#include "detail/CloseOnExec.hpp"
#include "detail/Format.hpp"
#include "detail/PlainConnection.hpp"
#include "detail/ServerState.hpp"
#include "detail/TlsConnection.hpp"
#include "broker/RedisBroker.hpp"
#include "websocket/Topics.hpp"

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
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

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

/// The server whose io_context this thread runs handlers of, if any: a stop() from there
/// must neither wait for that server's threads nor join them.
thread_local const void* servingServer = nullptr;

/// Marks this thread as serving `server` while it lives.
class Serving {
public:
    explicit Serving(const void* server) : previous_(std::exchange(servingServer, server)) {}
    ~Serving() { servingServer = previous_; }
    Serving(const Serving&) = delete;
    Serving& operator=(const Serving&) = delete;

private:
    const void* previous_;
};

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
    // Lives as long as the server, across restarts: topic policies stay, subscribers go
    // with their sessions.
    std::shared_ptr<detail::TopicRegistry> topics = std::make_shared<detail::TopicRegistry>();
    std::shared_ptr<detail::RedisBroker> broker;  // setRedisBroker; connected while running
    ConnectionLimits connectionLimits;
    std::vector<std::function<void()>> startedListeners;
    std::vector<std::function<void()>> stoppingListeners;

    std::unique_ptr<net::io_context> ioc;
    std::shared_ptr<detail::ServerState> state;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::vector<Listener> listeners;
    std::vector<std::thread> pool;

    bool stopAtShutdown = false;
    bool reloadOnSighup = false;
    std::unique_ptr<net::signal_set> signals;
    // A second SIGINT/SIGTERM during the stop: the wait for the peers ends now.
    std::atomic<bool> stopNow{false};
    std::mutex reloading;  // one reload at a time, so that each is all or nothing

    // Guards the transitions between running, stopping (neither flag) and stopped, and
    // what port() and sessionCount() read; never held while waiting for connections or
    // threads, so a callback can call those during a stop.
    std::mutex mutex;
    std::condition_variable stoppedCv;
    bool running = false;
    bool stopped = true;
    std::thread stopper;  // runs a stop() called from a server thread

    bool onServerThread() const noexcept { return servingServer == this; }

    static void notify(const std::vector<std::function<void()>>& listeners, std::string_view what)
    {
        for (const auto& listener : listeners) {
            try {
                listener();
            } catch (const std::exception& e) {
                log::error("Server::{} listener threw: {}", what, e.what());
            } catch (...) {
                log::error("Server::{} listener threw a non-standard exception", what);
            }
        }
    }

    /// Waits until the stop in progress has finished, and joins the thread that ran it
    /// if it was one of its own.
    void awaitStopped(std::unique_lock<std::mutex>& lock)
    {
        stoppedCv.wait(lock, [this] { return stopped; });
        if (!stopper.joinable()) return;
        auto finished = std::move(stopper);  // joined by one caller only
        lock.unlock();
        finished.join();
        lock.lock();
    }

    void accept(Listener& l)
    {
        // The peer's address comes with accept (no getpeername per connection).
        l.acceptor->async_accept(state->strands.next(), l.peer, [this, &l](const boost::system::error_code& ec, tcp::socket s) {
            if (ec == net::error::operation_aborted || !l.acceptor->is_open()) return;
            if (ec) return acceptFailed(l, ec);
            detail::setCloseOnExec(s.native_handle());
            if (l.failedAccepts) acceptWorks(l);
            state->metrics.connectionAccepted();
            if (state->connections.limitsAddresses() &&
                state->connections.overAddressLimit(fmt::format("{}", l.peer))) {
                boost::system::error_code ignored;
                s.close(ignored);  // ConnectionLimits::maxConnectionsPerAddress: before any read
            } else if (l.tls) {
                detail::startTlsConnection(std::move(s), l.peer, state, l.tls);
                // At the connector's bound of handshakes in progress: wait for one to finish
                // (the kernel's backlog holds what arrives meanwhile).
                if (detail::pauseAccepting(*l.tls, resumer(l))) return;
            } else {
                detail::startPlainConnection(std::move(s), l.peer, state);
            }
            // At ConnectionLimits::maxConnections: the same, until a connection closes.
            if (state->connections.pauseIfFull(resumer(l))) return;
            accept(l);
        });
    }

    /// What a paused acceptor is resumed with (from any thread).
    std::function<void()> resumer(Listener& l)
    {
        return [this, &l] {
            net::post(l.acceptor->get_executor(), [this, &l] {
                if (l.acceptor->is_open()) accept(l);
            });
        };
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
        if (!ec) detail::setCloseOnExec(l.acceptor->native_handle());
        if (!ec) l.acceptor->set_option(net::socket_base::reuse_address(true), ec);
        if (!ec && address.is_v6()) l.acceptor->set_option(net::ip::v6_only(false), ec);
        // Accepted sockets inherit TCP_NODELAY on Linux: set once here rather than per connection.
        if (!ec) {
            boost::system::error_code ignored;
            l.acceptor->set_option(tcp::no_delay(true), ignored);
        }
        // ... and SO_SNDBUF.
        if (!ec && l.config.sendBufferSize)
            l.acceptor->set_option(net::socket_base::send_buffer_size(static_cast<int>(l.config.sendBufferSize)), ec);
        if (!ec) l.acceptor->bind(endpoint, ec);
        if (!ec) l.acceptor->listen(net::socket_base::max_listen_connections, ec);
        if (ec) throw std::runtime_error(describeBindError(l.config, ec));
        l.port = l.acceptor->local_endpoint().port();
        if (l.tls) detail::setConnectorName(*l.tls, fmt::format("{}:{}", l.config.host, l.port));
    }

    /// setStopAtShutdown and setReloadCertificatesOnSighup: one signal at a time, on a server thread.
    void awaitSignal(Server& server)
    {
        signals->async_wait([this, &server](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (signal == SIGHUP) {
                log::info("SIGHUP: reloading the certificates");
                try {
                    server.reloadCertificates();
                } catch (const std::exception&) {
                    // reloadCertificates() has logged why; the old certificates stay.
                }
            } else {
                const char* name = signal == SIGINT ? "SIGINT" : "SIGTERM";
                if (server.isRunning()) {
                    log::info("{}: stopping gracefully; send it again to stop at once", name);
                    // On a server thread: the stop runs on its own thread, join() returns after it.
                    server.stop();
                } else {
                    log::info("{} again: closing the remaining connections now", name);
                    stopNow.store(true);
                }
            }
            awaitSignal(server);
        });
    }

    /// The graceful stop, on a thread that is not one of the server's (they are joined).
    void shutDown()
    {
        auto& s = *state;

        // 1. No new connections.
        s.connections.stop();  // a paused acceptor is never resumed
        for (auto& l : listeners) {
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

        // 2. The application's goodbyes, while sends still work; then close every session
        // with 1001 (after what they queued) and idle HTTP connections; let queues drain.
        notify(stoppingListeners, "onStopping");
        if (broker) {
            // The goodbyes go through Redis and come back: wait for them (and for every
            // other publish still on its way) before the sessions close, bounded.
            const auto bound = std::chrono::steady_clock::now() + broker->publishTimeout();
            while (!broker->settled() && std::chrono::steady_clock::now() < bound && !stopNow.load())
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        s.stopping.store(true);
        for (auto& c : s.snapshot()) c->gracefulClose();
        const auto deadline = std::chrono::steady_clock::now() + stopTimeout;
        while (s.liveCount() > 0 && std::chrono::steady_clock::now() < deadline && !stopNow.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(5));

        // 3. Whatever is left is closed now. (Scoped: the last reference to a connection
        // must not outlive the io_context, whose strand service its strand needs to unregister.)
        {
            const auto left = s.snapshot();
            if (!left.empty()) log::info("stop: closing {} connection(s) that did not finish in time", left.size());
            for (auto& c : left) c->forceClose();
        }
        const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (s.liveCount() > 0 && std::chrono::steady_clock::now() < hard)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));

        if (broker) broker->stop();  // while the threads still run its strand
        work.reset();
        ioc->stop();
        for (auto& t : pool) t.join();
        pool.clear();

        // 4. A forced close is a teardown posted to the connection's strand: behind a callback
        // that outlasted the deadlines it is still queued, and destroying the io_context would
        // drop it with its onClose. This thread runs what is left instead (sessions upgraded
        // meanwhile included), bounded, as a server thread: a stop() from an onClose returns.
        {
            Serving serving(this);
            ioc->restart();
            for (auto& c : s.snapshot()) c->forceClose();
            const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            while (s.liveCount() > 0 && !ioc->stopped() && std::chrono::steady_clock::now() < bound)
                ioc->run_one_for(std::chrono::milliseconds(5));
        }

        s.poller.shutdown();  // before the io_context goes (connections may outlive state)
        signals.reset();      // restores the signals' default dispositions
        std::shared_ptr<detail::ServerState> endedState;
        std::unique_ptr<net::io_context> ended;
        {
            std::lock_guard lock(mutex);
            listeners.clear();
            endedState = std::move(state);
            ended = std::move(ioc);
        }
        // Both go outside the lock. The state's Poller takes its batch lock, which a server
        // thread holds while it runs a callback that may call stop() and so take this one
        // (a lock-order inversion ThreadSanitizer reported). Destroying the io_context
        // destroys whatever handlers were still queued: the listeners they hold may call
        // port() or sessionCount() from their destructors.
        endedState.reset();
        ended.reset();
        log::info("server stopped");
        std::lock_guard lock(mutex);
        stopped = true;
        stoppedCv.notify_all();
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
void Server::setConnectionLimits(const ConnectionLimits& limits) { impl_->connectionLimits = limits; }
void Server::onStarted(std::function<void()> listener) { impl_->startedListeners.push_back(std::move(listener)); }
void Server::onStopping(std::function<void()> listener) { impl_->stoppingListeners.push_back(std::move(listener)); }
void Server::setReloadCertificatesOnSighup(bool reload) { impl_->reloadOnSighup = reload; }

void Server::start()
{
    std::unique_lock lock(impl_->mutex);
    if (impl_->running) throw std::logic_error("Server::start(): the server is already running");
    impl_->awaitStopped(lock);  // a stop() called from a server thread may still be running
    if (impl_->connectors.empty()) throw std::invalid_argument("Server::start(): no connector (addConnector first)");
    const unsigned threads = impl_->threads ? impl_->threads : std::max(1u, std::thread::hardware_concurrency());
    impl_->ioc = std::make_unique<net::io_context>(static_cast<int>(threads));
    impl_->state = std::make_shared<detail::ServerState>(*impl_->ioc, threads);
    impl_->state->handler = impl_->handler;
    impl_->state->limits = impl_->limits;
    impl_->state->sendBudget.limit = impl_->memoryLimits.maxQueuedBytes;
    impl_->state->receiveBudget.limit = impl_->memoryLimits.maxPartialMessageBytes;
    impl_->state->topics = impl_->topics;
    impl_->state->broker = impl_->broker;
    impl_->state->connections.configure(impl_->connectionLimits);
    impl_->state->maxSessions = impl_->connectionLimits.maxSessions;
    impl_->state->retryAfter = std::to_string(impl_->connectionLimits.retryAfter.count());
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
        // Destroyed outside the lock, as in shutDown().
        auto state = std::move(impl_->state);
        auto ioc = std::move(impl_->ioc);
        lock.unlock();
        state.reset();
        ioc.reset();
        throw;
    }
    for (auto& l : impl_->listeners) {
        impl_->accept(l);
        log::info("listening on {}://{}:{}", l.tls ? "https" : "http", l.config.host, l.port);
    }
    impl_->stopNow.store(false);
    if (impl_->stopAtShutdown || impl_->reloadOnSighup) {
        impl_->signals = std::make_unique<net::signal_set>(*impl_->ioc);
        if (impl_->stopAtShutdown) {
            impl_->signals->add(SIGINT);
            impl_->signals->add(SIGTERM);
        }
        if (impl_->reloadOnSighup) impl_->signals->add(SIGHUP);
        impl_->awaitSignal(*this);
    }
    impl_->work.emplace(impl_->ioc->get_executor());
    for (unsigned i = 0; i < threads; ++i)
        impl_->pool.emplace_back([impl = impl_.get(), ioc = impl_->ioc.get()] {
            Serving serving(impl);
            for (;;) {
                try {
                    ioc->run();
                    return;
                } catch (const std::exception& e) {
                    log::error("uncaught exception on a server thread: {}", e.what());
                }
            }
        });
    if (impl_->broker) impl_->broker->start(*impl_->ioc);
    impl_->running = true;
    impl_->stopped = false;
    lock.unlock();  // a listener may call port(), or stop()
    Impl::notify(impl_->startedListeners, "onStarted");
}

void Server::join()
{
    std::unique_lock lock(impl_->mutex);
    impl_->awaitStopped(lock);
}

void Server::stop()
{
    std::unique_lock lock(impl_->mutex);
    if (impl_->running) {
        impl_->running = false;  // (sends are refused once the onStopping listeners ran: shutDown)
        impl_->state->stopBegun.store(true);  // health checks say 503 from now on
        if (impl_->onServerThread()) {
            // This thread can neither wait here (its own sessions close only once it returns
            // to the io_context) nor join itself: the stop gets a thread of its own.
            impl_->stopper = std::thread([impl = impl_.get()] { impl->shutDown(); });
            return;
        }
        lock.unlock();
        impl_->shutDown();
        lock.lock();
    }
    if (!impl_->onServerThread()) impl_->awaitStopped(lock);
}

void Server::reloadCertificates()
{
    std::lock_guard reloading(impl_->reloading);
    std::vector<std::pair<std::shared_ptr<detail::TlsContext>, std::string>> connectors;
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->running) return;
        for (const auto& l : impl_->listeners)
            if (l.tls) connectors.emplace_back(l.tls, fmt::format("{}:{}", l.config.host, l.port));
    }
    if (connectors.empty()) {
        log::info("certificate reload: no TLS connector");
        return;
    }
    // Every connector's files first: one that fails leaves all of them as they were.
    std::vector<std::shared_ptr<const detail::CertificateSet>> loaded;
    for (const auto& [tls, name] : connectors) {
        try {
            loaded.push_back(detail::loadCertificates(*tls));
        } catch (const std::exception& e) {
            log::error("certificate reload failed, every TLS connector keeps its certificates: tls {}: {}", name,
                       e.what());
            throw;
        }
    }
    for (std::size_t i = 0; i < connectors.size(); ++i) {
        const auto count = detail::certificateCount(*loaded[i]);
        detail::useCertificates(*connectors[i].first, std::move(loaded[i]));
        // Only now: whoever reads this line (an operator after SIGHUP) may connect at once.
        log::info("tls {}: {} certificate(s) reloaded; new handshakes use them", connectors[i].second, count);
    }
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

MetricsSnapshot Server::metrics() const
{
    std::shared_ptr<detail::ServerState> state;
    {
        std::lock_guard lock(impl_->mutex);
        state = impl_->state;
    }
    return state ? state->metricsSnapshot() : MetricsSnapshot{};
}

std::size_t Server::sessionCount() const noexcept
{
    std::lock_guard lock(impl_->mutex);
    return impl_->state ? impl_->state->webSocketCount.load() : 0;
}

std::size_t Server::publish(std::string_view topic, const Message& message)
{
    return impl_->topics->route(topic, message, 0, {});
}

void Server::publish(std::string_view topic, const Message& message, PublishHandler done)
{
    impl_->topics->route(topic, message, 0, std::move(done));
}

void Server::setRedisBroker(RedisBrokerConfig config)
{
    std::lock_guard lock(impl_->mutex);
    if (impl_->running) throw std::logic_error("Server::setRedisBroker: call it before start()");
    if (impl_->broker) throw std::logic_error("Server::setRedisBroker: the server has a broker already");
    impl_->broker = std::make_shared<detail::RedisBroker>(std::move(config), *impl_->topics);
    impl_->topics->setBroker(impl_->broker);
}

BrokerState Server::brokerState() const
{
    return impl_->broker ? impl_->broker->state() : BrokerState{};
}

std::size_t Server::subscriberCount(std::string_view topic) const { return impl_->topics->subscriberCount(topic); }

void Server::setTopicPolicy(std::string_view topic, SlowSubscriberPolicy policy) { impl_->topics->setPolicy(topic, policy); }

void Server::setTopicActivityListener(TopicActivityListener listener)
{
    impl_->topics->setActivityListener(std::move(listener));
}

std::uint64_t Server::droppedPublishes() const noexcept { return impl_->topics->droppedTotal(); }

}  // namespace wharf
