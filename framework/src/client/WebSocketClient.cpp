// WebSocketClient: connects out and hands the connection to the engine in the client role.
//
//   connect(listener, uri) ─▶ Attempt (one per connect, on its own strand)
//       resolve (async DNS) ─▶ TCP connect (connectTimeout)
//       ─▶ TLS handshake (wss: SNI, certificate and name check)  ┐ handshakeTimeout
//       ─▶ upgrade request ─▶ response header (16 KiB at most)    ┘
//       ─▶ 101 checked ─▶ WsConnection(Role::Client) on the client's Poller, start(early)
//       ─▶ the future / callback gets the Session (after onConnect)
//
// The sessions are the server's engine (WsConnection over PolledWsConnection): same
// listener contract, same threading (a connection's strand), same deadline wheel. The
// client is their SessionHost (a PolledHost of its own: io_context, Poller, wheel).

#include <wharf/WebSocketClient.hpp>

#include "client/ClientHandshake.hpp"
#include "client/ClientTls.hpp"
#include "detail/CloseOnExec.hpp"
#include "detail/Format.hpp"
#include "detail/PlainConnection.hpp"
#include "detail/Poller.hpp"
#include "detail/TlsConnection.hpp"
#include "detail/WsConnection.hpp"
#include "handler/RequestBuilder.hpp"
#include "tls/TlsStream.hpp"
#include "websocket/UpgradeAction.hpp"

#include <wharf/Log.hpp>
#include <wharf/Upgrade.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace wharf {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using detail::Strand;

UpgradeException::UpgradeException(ConnectFailure failure)
    : std::system_error(failure.code, failure.message), failure_(std::move(failure))
{
}

namespace {

// A response header larger than this is not a WebSocket server's answer.
constexpr std::size_t maxResponseHeader = 16 * 1024;
// What a refused upgrade's body may be: enough for any error page, no more.
constexpr std::size_t maxResponseBody = 64 * 1024;

/// The client whose thread this is (stop() from a callback must not join it).
thread_local const void* servingClient = nullptr;

using Completion = std::function<void(ConnectFailure failure, Session session)>;

ConnectFailure failure(Errc code, std::string message)
{
    return ConnectFailure{make_error_code(code), std::move(message), 0, {}, {}};
}

}  // namespace

struct WebSocketClient::Impl : std::enable_shared_from_this<WebSocketClient::Impl> {
    class Attempt;
    class Reconnector;

    // Configuration: before start().
    unsigned threads = 1;
    WebSocketPolicy policy;
    ClientTlsOptions tls;
    std::chrono::milliseconds stopTimeout = defaults::stopTimeout;

    mutable std::mutex mutex;
    bool running = false;
    std::unique_ptr<net::io_context> ioc;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::vector<std::thread> pool;
    std::thread stopper;  // a stop() called from a client thread runs here
    std::shared_ptr<detail::PolledHost> host;
    std::shared_ptr<SSL_CTX> sslContext;
    std::shared_ptr<const WebSocketPolicy> sessionPolicy;
    std::set<std::shared_ptr<Attempt>> attempts;  // in progress: stop() ends them

    void start();
    void stop();
    void shutDown();
    bool stopping() const
    {
        std::lock_guard lock(mutex);
        return !running || host->stopping.load();
    }
    void connect(std::shared_ptr<WebSocketListener> listener, std::string_view uri, ClientUpgradeRequest request,
                 Completion done);
    void finished(const std::shared_ptr<Attempt>& attempt)
    {
        std::lock_guard lock(mutex);
        attempts.erase(attempt);
    }
};

// ---------------------------------------------------------------------------------------
// One connect: DNS, TCP, TLS, the upgrade.

class WebSocketClient::Impl::Attempt : public std::enable_shared_from_this<Attempt> {
public:
    Attempt(std::weak_ptr<Impl> client, Strand strand, std::shared_ptr<detail::PolledHost> host,
            std::shared_ptr<SSL_CTX> ssl, std::shared_ptr<const WebSocketPolicy> policy, ClientTlsOptions tls,
            detail::WsUri uri, ClientUpgradeRequest request, std::shared_ptr<WebSocketListener> listener,
            Completion done)
        : client_(std::move(client)),
          strand_(strand),
          host_(std::move(host)),
          ssl_(std::move(ssl)),
          policy_(std::move(policy)),
          tlsOptions_(std::move(tls)),
          uri_(std::move(uri)),
          request_(std::move(request)),
          listener_(std::move(listener)),
          done_(std::move(done)),
          resolver_(strand),
          tcp_(strand)
    {
    }

    /// Throws std::invalid_argument for a reserved header in the request.
    void prepare()
    {
        offer_ = detail::makeOffer(request_, *policy_);
        sent_ = detail::upgradeHeaders(uri_, request_, offer_);
        requestText_ = detail::serializeRequest(uri_.target, sent_);
    }

    void run()
    {
        net::dispatch(strand_, [self = shared_from_this()] { self->resolve(); });
    }

    /// stop(): ends the attempt with ClientStopped.
    void cancel()
    {
        net::post(strand_, [self = shared_from_this()] {
            self->fail(failure(Errc::ClientStopped, "the client stopped before the connection was made"));
        });
    }

private:
    void resolve()
    {
        if (done_ == nullptr) return;
        resolver_.async_resolve(uri_.host, std::to_string(uri_.port),
                                [self = shared_from_this()](const boost::system::error_code& ec,
                                                            const tcp::resolver::results_type& results) {
                                    self->onResolved(ec, results);
                                });
    }

    void onResolved(const boost::system::error_code& ec, const tcp::resolver::results_type& results)
    {
        if (!done_) return;
        if (ec || results.empty())
            return fail(failure(Errc::DnsFailure, fmt::format("cannot resolve {}: {}", uri_.host,
                                                              ec ? ec.message() : "no address")));
        tcp_.expires_after(request_.connectTimeout);
        tcp_.async_connect(results, [self = shared_from_this()](const boost::system::error_code& e,
                                                                const tcp::endpoint& endpoint) {
            self->onConnected(e, endpoint);
        });
    }

    void onConnected(const boost::system::error_code& ec, const tcp::endpoint& endpoint)
    {
        if (!done_) return;
        if (ec) {
            const auto where = fmt::format("{}:{}", uri_.host, uri_.port);
            if (ec == beast::error::timeout)
                return fail(failure(Errc::ConnectTimeout,
                                    fmt::format("connect to {} timed out after {} ms", where,
                                                request_.connectTimeout.count())));
            if (ec == net::error::connection_refused)
                return fail(failure(Errc::ConnectionRefused, fmt::format("connection to {} refused", where)));
            return fail(failure(Errc::ConnectFailed, fmt::format("cannot connect to {}: {}", where, ec.message())));
        }
        remote_ = fmt::format("{}", endpoint);
        detail::setCloseOnExec(tcp_.socket().native_handle());
        boost::system::error_code ignored;
        tcp_.socket().set_option(tcp::no_delay(true), ignored);
        tcp_.socket().non_blocking(true, ignored);
        tcp_.expires_never();
        if (!uri_.secure) {
            tcp_.expires_after(request_.handshakeTimeout);
            return upgrade(tcp_);
        }
        try {
            tls_.emplace(tcp_.release_socket(), ssl_.get());
        } catch (const std::exception& e) {
            return fail(failure(Errc::TlsHandshakeFailed, e.what()));
        }
        const auto& options = tlsOptions_;
        const std::string name = options.serverName.empty() ? uri_.host : options.serverName;
        if (!tls_->engine().connectTo(name, !options.insecureSkipVerify))
            return fail(failure(Errc::TlsHandshakeFailed, fmt::format("TLS: cannot use \"{}\" as the server name", name)));
        tls_->next_layer().setOwner(weak_from_this());
        tls_->next_layer().expires_after(request_.handshakeTimeout);  // the TLS and the HTTP handshake
        tls_->async_handshake([self = shared_from_this()](const boost::system::error_code& e) { self->onTlsDone(e); });
    }

    void onTlsDone(const boost::system::error_code& ec)
    {
        if (!done_) return;
        if (!ec) return upgrade(*tls_);
        if (ec == beast::error::timeout) return fail(timedOut("TLS handshake"));
        const long verify = tls_->engine().verifyResult();
        if (const auto cert = detail::certificateError(verify); cert != Errc{})
            return fail(failure(cert, fmt::format("TLS: certificate of {} rejected: {}", uri_.host,
                                                  X509_verify_cert_error_string(verify))));
        fail(failure(Errc::TlsHandshakeFailed, fmt::format("TLS handshake with {} failed: {}", uri_.host, ec.message())));
    }

    ConnectFailure timedOut(std::string_view phase) const
    {
        return failure(Errc::HandshakeTimeout, fmt::format("{} with {}:{} took longer than {} ms", phase, uri_.host,
                                                           uri_.port, request_.handshakeTimeout.count()));
    }

    template <class Stream>
    void upgrade(Stream& stream)
    {
        parser_.emplace();
        parser_->header_limit(maxResponseHeader);
        parser_->body_limit(maxResponseBody);
        net::async_write(stream, net::buffer(requestText_),
                         [self = shared_from_this(), &stream](const boost::system::error_code& ec, std::size_t) {
                             if (!self->done_) return;
                             if (ec) return self->fail(self->readFailure(ec, "sending the upgrade request"));
                             http::async_read_header(stream, self->buffer_, *self->parser_,
                                                     [self, &stream](const boost::system::error_code& e, std::size_t) {
                                                         self->onResponseHeader(stream, e);
                                                     });
                         });
    }

    ConnectFailure readFailure(const boost::system::error_code& ec, std::string_view doing) const
    {
        if (ec == beast::error::timeout) return timedOut("the upgrade");
        if (ec == http::error::header_limit)
            return failure(Errc::BadHandshakeResponse, "the server's response header is larger than 16 KiB");
        if (ec.category() == http::make_error_code(http::error::end_of_stream).category())
            return failure(Errc::BadHandshakeResponse, fmt::format("the server's response is not HTTP/1.1: {}", ec.message()));
        return failure(Errc::BadHandshakeResponse, fmt::format("{} to {}:{}: {}", doing, uri_.host, uri_.port,
                                                               ec == net::error::eof ? "the server closed the connection"
                                                                                     : ec.message()));
    }

    template <class Stream>
    void onResponseHeader(Stream& stream, const boost::system::error_code& ec)
    {
        if (!done_) return;
        if (ec) return fail(readFailure(ec, "reading the response"));
        const int status = parser_->get().result_int();
        if (status == 101 || parser_->is_done()) return checkResponse();
        // A refusal: its body is for the caller (ConnectFailure::body), as far as it comes.
        http::async_read(stream, buffer_, *parser_,
                         [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                             if (self->done_) self->checkResponse();
                         });
    }

    void checkResponse()
    {
        const auto& response = parser_->get();
        Headers headers;
        for (const auto& field : response) headers.add(std::string(field.name_string()), std::string(field.value()));
        auto check = detail::checkUpgradeResponse(response.result_int(), headers, offer_);
        // A protocol switch exists from HTTP/1.1 on (RFC 9110 7.8): a 101 in HTTP/1.0 is no
        // WebSocket handshake, whatever its headers say.
        if (check.error == Errc{} && response.version() < 11) {
            check.error = Errc::BadHandshakeResponse;
            check.reason = "the server answered 101 in HTTP/1.0; a protocol switch needs HTTP/1.1";
            check.deflate.reset();
        }
        if (check.error != Errc{}) {
            ConnectFailure f = failure(check.error, fmt::format("ws{}://{}{}: {}", uri_.secure ? "s" : "",
                                                                detail::hostHeader(uri_), uri_.target, check.reason));
            f.status = response.result_int();
            f.headers = std::move(headers);
            f.body = response.body();
            return fail(std::move(f));
        }
        if (check.deflate) check.deflate->threshold = policy_->deflate.threshold;
        open(headers, std::move(check));
    }

    /// The 101 passed: the engine takes the connection over.
    void open(const Headers& response, detail::UpgradeCheck check)
    {
        // Session::upgradeRequest(): the request as sent, with what the server accepted.
        Request sent;
        detail::RequestBuilder builder(sent);
        builder.setMethod("GET").setVersion(11).setRemoteAddress(remote_).setSecure(uri_.secure);
        builder.setTarget(uri_.target);
        for (const auto& [name, value] : sent_)
            if (!iequals(name, "Sec-WebSocket-Protocol") && !iequals(name, "Sec-WebSocket-Extensions"))
                builder.headers().add(name, value);
        if (!check.subprotocol.empty()) builder.headers().add("Sec-WebSocket-Protocol", check.subprotocol);
        for (auto value : response.getAll("Sec-WebSocket-Extensions"))
            builder.headers().add("Sec-WebSocket-Extensions", std::string(value));

        detail::UpgradeAction action;
        action.listener = listener_;
        action.request = std::make_shared<const UpgradeRequest>(sent);
        action.policy = policy_;
        action.deflate = std::move(check.deflate);
        // Bytes the server sent right after its 101 (a first message) are the connection's.
        const std::string early(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        std::shared_ptr<detail::WsConnection> connection;
        if (tls_) {
            connection = detail::makeTlsWsConnection(*tls_, strand_, host_, action, detail::Role::Client);
        } else {
            tcp_.expires_never();
            connection = detail::makePlainWsConnection(tcp_.release_socket(), strand_, host_, action,
                                                       detail::Role::Client);
        }
        connection->start(early);
        complete({}, Session(connection));
    }

    void fail(ConnectFailure f)
    {
        if (!done_) return;
        log::debug("client: {}", f.message);
        boost::system::error_code ignored;
        resolver_.cancel();
        if (tls_) tls_->next_layer().close();
        else tcp_.close();
        complete(std::move(f), {});
    }

    void complete(ConnectFailure f, Session session)
    {
        auto done = std::move(done_);
        done_ = nullptr;
        if (auto client = client_.lock()) client->finished(shared_from_this());
        try {
            done(std::move(f), std::move(session));
        } catch (const std::exception& e) {
            log::error("client: a connect callback threw: {}", e.what());
        } catch (...) {
            log::error("client: a connect callback threw");
        }
    }

    std::weak_ptr<Impl> client_;
    Strand strand_;
    std::shared_ptr<detail::PolledHost> host_;
    std::shared_ptr<SSL_CTX> ssl_;
    std::shared_ptr<const WebSocketPolicy> policy_;
    ClientTlsOptions tlsOptions_;
    detail::WsUri uri_;
    ClientUpgradeRequest request_;
    std::shared_ptr<WebSocketListener> listener_;
    Completion done_;  // null once completed
    detail::ClientOffer offer_;
    Headers sent_;
    std::string requestText_;
    std::string remote_;
    tcp::resolver resolver_;
    beast::tcp_stream tcp_;
    std::optional<detail::TlsStream> tls_;
    beast::flat_buffer buffer_;
    std::optional<http::response_parser<http::string_body>> parser_;
};

// ---------------------------------------------------------------------------------------
// Reconnecting: a listener in front of the user's that connects again after an end.

class WebSocketClient::Impl::Reconnector : public WebSocketListener,
                                           public std::enable_shared_from_this<Reconnector> {
public:
    Reconnector(std::weak_ptr<Impl> client, std::shared_ptr<WebSocketListener> inner, std::string uri,
                ClientUpgradeRequest request)
        : client_(std::move(client)), inner_(std::move(inner)), uri_(std::move(uri)), request_(std::move(request))
    {
    }

    void onConnect(Session session) override
    {
        failures_ = 0;
        inner_->onConnect(std::move(session));
    }
    void onText(std::string_view message) override { inner_->onText(message); }
    void onBinary(std::span<const std::byte> message) override { inner_->onBinary(message); }
    void onError(const Error& error) override { inner_->onError(error); }
    void onDrain() override { inner_->onDrain(); }
    void onClose(CloseStatus status, std::string_view reason) override
    {
        inner_->onClose(status, reason);
        // 1000: the conversation is over by agreement (ours or the server's).
        if (status != CloseStatus::Normal) schedule();
    }

private:
    void schedule()
    {
        auto client = client_.lock();
        if (!client || client->stopping()) return;
        const auto& p = request_.reconnect;
        double delay = static_cast<double>(p.initialDelay.count()) * std::pow(std::max(p.multiplier, 1.0), failures_);
        delay = std::min(delay, static_cast<double>(p.maxDelay.count()));
        std::uint32_t random = 0;
        RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof random);
        const double unit = static_cast<double>(random) / 4294967295.0;  // [0, 1]
        const double jitter = std::clamp(p.jitter, 0.0, 1.0);
        delay *= 1.0 - jitter + 2.0 * jitter * unit;
        auto timer = std::make_shared<net::steady_timer>(*client->ioc);
        timer->expires_after(std::chrono::milliseconds(static_cast<long long>(delay)));
        timer->async_wait([self = shared_from_this(), timer](const boost::system::error_code& ec) {
            if (!ec) self->attempt();
        });
    }

    void attempt()
    {
        auto client = client_.lock();
        if (!client || client->stopping()) return;
        client->connect(shared_from_this(), uri_, request_, [self = shared_from_this()](ConnectFailure f, Session) {
            if (!f.code) return;
            if (f.code == Errc::ClientStopped) return;
            const auto& p = self->request_.reconnect;
            ++self->failures_;
            const bool retrying = p.maxAttempts == 0 || self->failures_ < p.maxAttempts;
            log::info("client: reconnect to {} failed ({}){}", self->uri_, f.message, retrying ? "" : "; giving up");
            if (p.onAttemptFailed) {
                try {
                    p.onAttemptFailed(f.code, retrying);
                } catch (...) {
                    log::error("client: ReconnectPolicy::onAttemptFailed threw");
                }
            }
            if (retrying) self->schedule();
        });
    }

    std::weak_ptr<Impl> client_;
    std::shared_ptr<WebSocketListener> inner_;
    std::string uri_;
    ClientUpgradeRequest request_;
    unsigned failures_ = 0;  // consecutive failed attempts (any thread of the client: one at a time)
};

// ---------------------------------------------------------------------------------------
// Life cycle

void WebSocketClient::Impl::start()
{
    std::lock_guard lock(mutex);
    if (running) return;
    if (stopper.joinable()) stopper.join();
    sslContext = detail::makeClientTlsContext(tls);
    sessionPolicy = std::make_shared<const WebSocketPolicy>(policy);
    const unsigned n = std::max(1u, threads);
    ioc = std::make_unique<net::io_context>(static_cast<int>(n));
    host = std::make_shared<detail::PolledHost>(*ioc, n);
    work.emplace(ioc->get_executor());
    for (unsigned i = 0; i < n; ++i)
        pool.emplace_back([this, io = ioc.get()] {
            servingClient = this;
            io->run();
        });
    running = true;
}

void WebSocketClient::Impl::stop()
{
    if (servingClient == this) {
        // A client thread cannot join itself: the stop runs on a thread of its own.
        std::lock_guard lock(mutex);
        if (!running || stopper.joinable()) return;
        stopper = std::thread([self = shared_from_this()] { self->shutDown(); });
        return;
    }
    std::thread pending;
    {
        std::lock_guard lock(mutex);
        pending = std::move(stopper);
    }
    if (pending.joinable()) pending.join();
    shutDown();
}

void WebSocketClient::Impl::shutDown()
{
    std::shared_ptr<detail::PolledHost> h;
    std::vector<std::shared_ptr<Attempt>> inProgress;
    {
        std::lock_guard lock(mutex);
        if (!running || host->stopping.exchange(true)) return;
        h = host;
        inProgress.assign(attempts.begin(), attempts.end());
    }
    for (auto& a : inProgress) a->cancel();
    const auto sessions = [&] {
        std::vector<std::shared_ptr<detail::WsConnection>> out;
        h->deadlines.forEach([&](void* owner) {
            if (auto c = std::dynamic_pointer_cast<detail::WsConnection>(detail::lockWebSocket(owner)))
                out.push_back(std::move(c));
        });
        return out;
    };
    const auto settled = [&] {
        std::lock_guard lock(mutex);
        return h->webSocketCount.load() == 0 && attempts.empty();
    };
    // 1001 after what is queued; the client then waits for the server's close and its TCP close.
    for (auto& c : sessions()) c->close(CloseStatus::GoingAway, "client stopping", CloseMode::AfterQueued);
    const auto deadline = std::chrono::steady_clock::now() + stopTimeout;
    while (!settled() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto& c : sessions()) c->forceClose();
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!settled() && std::chrono::steady_clock::now() < hard)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));

    std::unique_ptr<net::io_context> ended;
    std::vector<std::thread> threadsToJoin;
    {
        std::lock_guard lock(mutex);
        work.reset();
        ioc->stop();
        threadsToJoin = std::move(pool);
    }
    for (auto& t : threadsToJoin) t.join();
    // A forced close behind a callback that outlasted the timeouts is still queued: run it
    // here, so every onConnect still gets its onClose.
    ioc->restart();
    for (auto& c : sessions()) c->forceClose();
    const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (h->webSocketCount.load() > 0 && std::chrono::steady_clock::now() < bound)
        ioc->run_one_for(std::chrono::milliseconds(5));
    h->poller.shutdown();
    {
        std::lock_guard lock(mutex);
        attempts.clear();
        host.reset();
        ended = std::move(ioc);
        running = false;
    }
    h.reset();
    ended.reset();  // outside the lock: destroyed handlers may hold listeners that call back
}

void WebSocketClient::Impl::connect(std::shared_ptr<WebSocketListener> listener, std::string_view uriText,
                                    ClientUpgradeRequest request, Completion done)
{
    if (!listener) throw std::invalid_argument("WebSocketClient::connect: the listener is null");
    const auto uri = detail::parseWsUri(uriText);
    if (!uri) {
        return done(failure(Errc::InvalidUri, fmt::format("\"{}\" is not a ws:// or wss:// URI", uriText)), {});
    }
    if (request.reconnect.enabled && !std::dynamic_pointer_cast<Reconnector>(listener))
        listener = std::make_shared<Reconnector>(weak_from_this(), std::move(listener), std::string(uriText), request);
    std::shared_ptr<Attempt> attempt;
    {
        std::lock_guard lock(mutex);
        if (running && !host->stopping.load()) {
            attempt = std::make_shared<Attempt>(weak_from_this(), net::make_strand(*ioc), host, sslContext,
                                                sessionPolicy, tls, *uri, std::move(request), std::move(listener),
                                                done);
        }
    }
    // The callbacks run outside the lock: they may call into the client.
    if (!attempt) return done(failure(Errc::ClientStopped, "the WebSocketClient is not started"), {});
    try {
        attempt->prepare();
    } catch (const std::invalid_argument& e) {
        return done(failure(Errc::InvalidArgument, e.what()), {});
    }
    {
        std::lock_guard lock(mutex);
        attempts.insert(attempt);
    }
    attempt->run();
}

// ---------------------------------------------------------------------------------------
// The public face

WebSocketClient::WebSocketClient() : impl_(std::make_shared<Impl>()) {}

WebSocketClient::~WebSocketClient()
{
    // From another thread stop() waits for everything. From a client thread (a listener
    // that owned the client) it hands the stop to a thread of its own, which cannot be
    // waited for here: that thread joins this one. It keeps the Impl alive until done.
    impl_->stop();
    if (servingClient != impl_.get()) return;
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopper.joinable()) impl_->stopper.detach();
}

void WebSocketClient::setThreads(unsigned threads) { impl_->threads = threads; }
void WebSocketClient::setPolicy(const WebSocketPolicy& policy) { impl_->policy = policy; }
const WebSocketPolicy& WebSocketClient::policy() const noexcept { return impl_->policy; }
void WebSocketClient::setTlsOptions(const ClientTlsOptions& options) { impl_->tls = options; }
void WebSocketClient::setStopTimeout(std::chrono::milliseconds timeout) { impl_->stopTimeout = timeout; }
void WebSocketClient::start() { impl_->start(); }
void WebSocketClient::stop() { impl_->stop(); }

bool WebSocketClient::isRunning() const noexcept
{
    std::lock_guard lock(impl_->mutex);
    return impl_->running;
}

std::future<Session> WebSocketClient::connect(std::shared_ptr<WebSocketListener> listener, std::string_view uri,
                                              ClientUpgradeRequest request)
{
    auto promise = std::make_shared<std::promise<Session>>();
    auto future = promise->get_future();
    impl_->connect(std::move(listener), uri, std::move(request), [promise](ConnectFailure f, Session session) {
        if (f.code) promise->set_exception(std::make_exception_ptr(UpgradeException(std::move(f))));
        else promise->set_value(std::move(session));
    });
    return future;
}

void WebSocketClient::connect(std::shared_ptr<WebSocketListener> listener, std::string_view uri,
                              ClientUpgradeRequest request, ConnectCallback done)
{
    impl_->connect(std::move(listener), uri, std::move(request),
                   [done = std::move(done)](ConnectFailure f, Session session) { done(f.code, std::move(session)); });
}

}  // namespace wharf
