#pragma once
// The embeddable server: connectors, a thread pool, and the root handler.

#include <wharf/Broker.hpp>
#include <wharf/Defaults.hpp>
#include <wharf/Handler.hpp>
#include <wharf/Session.hpp>
#include <wharf/Metrics.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wharf {

/// One certificate of a TLS connector with several (SslConfig::certificates), chosen by
/// the name the client asks for (SNI, RFC 6066 section 3).
struct SslCertificate {
    std::filesystem::path certificateChainFile;  ///< PEM, leaf first
    std::filesystem::path privateKeyFile;        ///< PEM
    std::string privateKeyPassword;              ///< for an encrypted key
    /// Host names it serves: exact ("example.com") or one wildcard label ("*.example.com").
    /// Empty: the certificate's DNS subjectAltNames (its subject CN if it has none).
    std::vector<std::string> names;
};

/// TLS settings of a connector (Jetty's SslContextFactory). The certificate: either the
/// three fields below, or `certificates`, or both (the fields below then come first).
/// Several certificates are chosen by SNI: an exact name first, then a wildcard; the
/// first certificate serves clients that send no name or one that no certificate has.
struct SslConfig {
    std::filesystem::path certificateChainFile;  ///< PEM, leaf first
    std::filesystem::path privateKeyFile;        ///< PEM
    std::string privateKeyPassword;              ///< for an encrypted key
    std::vector<SslCertificate> certificates;    ///< more certificates, chosen by SNI
    std::string minimumVersion = "TLSv1.2";      ///< "TLSv1.2" or "TLSv1.3"
    std::string cipherList;                      ///< TLS <= 1.2 ciphers; empty: OpenSSL's defaults
    std::string cipherSuites;                    ///< TLS 1.3 suites; empty: OpenSSL's defaults
    std::chrono::milliseconds handshakeTimeout{std::chrono::seconds(10)};
    /// Handshakes in progress on this connector; at the bound it stops accepting until one
    /// finishes (new connections wait in the kernel's backlog). 0: no bound.
    std::size_t maxHandshakes = defaults::maxTlsHandshakes;
    /// Handshakes in progress from one remote address; over it a new connection from that
    /// address is closed at once, before any TLS work. 0: no bound.
    std::size_t maxHandshakesPerAddress = defaults::maxTlsHandshakesPerAddress;
};

/// One listening endpoint.
struct ServerConnector {
    std::string host = "0.0.0.0";      ///< address to bind ("::" for all IPv6, "127.0.0.1", ...)
    std::uint16_t port = 8080;         ///< 0 picks a free port; read it with Server::port()
    std::optional<SslConfig> ssl = std::nullopt;  ///< set for a TLS (https/wss) connector
    /// SO_SNDBUF of the accepted sockets, in bytes (Jetty's acceptedSendBufferSize); 0: the
    /// kernel's default, which Linux grows up to net.ipv4.tcp_wmem's maximum (4 MiB).
    /// Smaller makes a session's bufferedAmount() and max send queue see a slow reader
    /// sooner (docs/websocket.md, "When the peer stops reading"). Linux doubles the value
    /// for its bookkeeping and stops growing the buffer for these sockets.
    std::size_t sendBufferSize = 0;
};

/// HTTP limits, applied to every connector.
struct HttpLimits {
    std::size_t maxHeaderSize = defaults::maxHeaderSize;  ///< request line + headers; over: 431
    std::size_t maxBodySize = defaults::maxBodySize;      ///< over: 413
    std::chrono::milliseconds requestTimeout = defaults::requestTimeout;      ///< whole request (and writing its response); over: 408 + close
    std::chrono::milliseconds keepAliveTimeout = defaults::keepAliveTimeout;  ///< idle between requests
};

/// Server-wide memory budgets of the WebSocket sessions, across every connector and
/// mapping (the factory's limits are per session). Over a budget, the sessions holding
/// the most are closed until the total is below it again; see docs/security.md.
struct WebSocketMemoryLimits {
    /// Bytes queued for sending by all sessions (a shared broadcast frame counts once per
    /// session that queued it). Over it: the largest queues are discarded and their
    /// sessions closed with 1008, or the TCP connection closed when even the close frame
    /// cannot be written. At twice this, every send is refused with SendQueueFull until
    /// those closes have freed their queues.
    std::size_t maxQueuedBytes = defaults::maxQueuedBytes;
    /// Bytes of incoming messages not yet complete (inflated size). Over it: the sessions
    /// holding the most are closed with 1009.
    std::size_t maxPartialMessageBytes = defaults::maxPartialMessageBytes;
};

/// How much one server accepts (docs/operations.md). 0 everywhere: no bound.
struct ConnectionLimits {
    /// Open TCP connections (HTTP and WebSocket, every connector). At the bound the server
    /// stops accepting; new connections wait in the kernel's listen backlog and are
    /// accepted as open ones close. Logged once per episode, not per connection.
    std::size_t maxConnections = defaults::maxConnections;
    /// Open WebSocket sessions. Over it an upgrade request gets 503 with Retry-After (before
    /// any creator runs); open sessions are untouched.
    std::size_t maxSessions = defaults::maxSessions;
    /// The Retry-After of that 503.
    std::chrono::seconds retryAfter = defaults::retryAfter;
    /// Open connections from one remote address (IP, any port). Over it a new connection
    /// from that address is closed at once, before it is read: no HTTP answer, so the
    /// cost of a flood stays that of an accept.
    std::size_t maxConnectionsPerAddress = defaults::maxConnectionsPerAddress;
};

/// The server (Jetty's Server). Typical use:
///
///     wharf::Server server(8080);
///     server.setHandler(context);
///     server.start();   // throws if a port cannot be bound
///     server.join();    // until stop() (from any thread), or Ctrl-C with setStopAtShutdown(true)
///
/// stop() is graceful: acceptors close; every WebSocket session is closed with 1001
/// "server stopping", after what it had queued, and sends from then on fail with
/// Errc::ServerStopping; the server waits up to the stop timeout for the peers to answer;
/// sessions still open then are closed by force (onError with Errc::ServerStopping first);
/// then the threads end. Every session that got onConnect gets exactly one onClose, also
/// one whose callback was still busy when the timeout passed.
/// Thread-safety: configure before start(); start, stop, join, isRunning, port,
/// sessionCount and metrics from any thread. stop() also from the server's own threads (a listener
/// callback, a servlet); start, join and the destructor not from those.
class Server {
public:
    /// A server without connectors (add them with addConnector).
    Server();
    /// A server with one plain connector on 0.0.0.0:port.
    explicit Server(std::uint16_t port);
    ~Server();  ///< stops the server if it is running and waits until it has stopped
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void addConnector(ServerConnector connector);
    /// Threads running the io_context; 0 (default) means std::thread::hardware_concurrency().
    void setThreads(unsigned threads);
    void setHandler(std::shared_ptr<Handler> handler);
    void setHttpLimits(const HttpLimits& limits);
    void setWebSocketMemoryLimits(const WebSocketMemoryLimits& limits);
    void setStopTimeout(std::chrono::milliseconds timeout);
    void setConnectionLimits(const ConnectionLimits& limits);
    /// Runs `listener` at the end of every start(), on the thread that called it, once the
    /// connectors listen and the threads run (Jetty's LifeCycle.Listener lifeCycleStarted).
    /// Listeners run in the order they were added; one that throws is logged and the next
    /// runs. Call before start().
    void onStarted(std::function<void()> listener);
    /// Runs `listener` when a stop begins: the acceptors are closed, but every session is
    /// still open and sends still work, so the application can stop its producers and say
    /// goodbye; what it sends goes out before the 1001 "server stopping". Runs on the
    /// thread that performs the stop (see stop()); a listener that throws is logged and the
    /// next runs. Call before start().
    void onStopping(std::function<void()> listener);
    /// Jetty's setStopAtShutdown: while the server runs, SIGINT and SIGTERM stop it
    /// gracefully instead of killing the process, as stop() does; join() returns once it
    /// is done, so `start(); join();` is all a main() needs. Call before start().
    /// A second SIGINT or SIGTERM while that stop runs ends the wait for the peers: the
    /// sessions still open are closed at once and join() returns.
    void setStopAtShutdown(bool stop);
    /// While the server runs, SIGHUP calls reloadCertificates() and logs its result (the
    /// signal is otherwise left alone, and by default it ends the process). Call before start().
    void setReloadCertificatesOnSighup(bool reload);

    /// Binds every connector and starts the threads; returns once listening. After a
    /// stop() that has not finished yet, waits for it first.
    /// Throws std::runtime_error naming the address and the reason when a bind fails
    /// (nothing stays bound then), or when a TLS connector's files are unusable.
    void start();
    /// Blocks until the server has stopped (by stop() from any thread, or by a signal with
    /// setStopAtShutdown(true)); returns at once if it is not running.
    void join();
    /// Graceful stop (see above). Idempotent. Called from a thread that is not the
    /// server's, it returns once the server has stopped and its threads have ended (also
    /// when another call began the stop). Called from one of the server's threads, it
    /// begins the stop on a thread of its own and returns at once, so that the callback
    /// can return too; join(), the destructor or a stop() from another thread wait for
    /// the end.
    void stop();
    bool isRunning() const noexcept;
    /// Reads every TLS connector's certificates and keys again from their files (certbot
    /// renews them in place). New handshakes use the new ones; open connections keep
    /// theirs. All or nothing: when a file is missing or unusable, or a key does not match,
    /// every connector keeps what it had and this throws std::runtime_error naming the file
    /// and the problem, as start() does (and logs it). Does nothing while the server is
    /// not running (start() reads the files). Thread-safety: any thread, also the server's.
    void reloadCertificates();

    /// The bound port of connector `index` (in addConnector order) after start().
    std::uint16_t port(std::size_t index = 0) const;
    /// Open WebSocket sessions right now.
    std::size_t sessionCount() const noexcept;
    /// What the server has counted since start() (wharf/Metrics.hpp); zeros when it is not
    /// running. Costs a sum over a few KiB of counters: fine once a second, not per message.
    /// Thread-safety: from any thread.
    MetricsSnapshot metrics() const;

    // --- Topics (see Session::subscribe and docs/pubsub.md) ---------------------------
    /// Queues `message` (framed once, compressed once per permessage-deflate parameter
    /// class) for every subscriber of `topic`; returns how many it was queued for. Any
    /// thread; 0 when nobody subscribes or the server is not running.
    std::size_t publish(std::string_view topic, const Message& message);
    /// Subscribers of `topic` right now.
    std::size_t subscriberCount(std::string_view topic) const;
    /// Overrides the mappings' SlowSubscriberPolicy for `topic`; any time, any thread.
    void setTopicPolicy(std::string_view topic, SlowSubscriberPolicy policy);
    /// Told when a topic gains its first or loses its last subscriber. Call before start().
    void setTopicActivityListener(TopicActivityListener listener);
    /// Messages skipped for slow subscribers (SlowSubscriberPolicy::Drop) since construction.
    std::uint64_t droppedPublishes() const noexcept;
    /// The same publish, telling `done` whether it reached the topic (see PublishHandler).
    /// With the Redis broker this is the form to use: the message reaches the subscribers
    /// (local ones included) once Redis has it, and the count of the form above is 0.
    void publish(std::string_view topic, const Message& message, PublishHandler done);

    // --- Several servers (docs/scaling.md) ---------------------------------------------
    /// Shares the topics with every server that names the same Redis: publishes go through
    /// Redis, which numbers each topic's messages, and come back to each node's
    /// subscribers. Without this call topics stay in this process and no Redis code runs.
    /// Call once, before start(). Throws std::invalid_argument on a malformed URL. start()
    /// does not wait for Redis: publishes wait for it up to their timeout.
    /// A stop waits (up to the publish timeout) for this node's publishes to come back
    /// from Redis to its own subscribers before it closes them, so goodbyes published by an
    /// onStopping listener arrive.
    void setRedisBroker(RedisBrokerConfig config);
    /// The broker's state; `configured` false without setRedisBroker. Any thread.
    BrokerState brokerState() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace wharf
