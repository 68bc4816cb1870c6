#pragma once
// The client side (Jetty 12's WebSocketClient): the same WebSocketListener and Session as
// the server, connected out to a ws:// or wss:// URI. docs/client.md explains it whole.

#include <wharf/Defaults.hpp>
#include <wharf/Error.hpp>
#include <wharf/Http.hpp>
#include <wharf/Session.hpp>
#include <wharf/WebSocketListener.hpp>
#include <wharf/WebSocketServletFactory.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace wharf {

/// TLS settings of a client (wss://). Certificates are verified by default: against the
/// system's trust store, with the host name checked and sent as SNI.
struct ClientTlsOptions {
    /// PEM file of trusted CA certificates. With this or caDirectory set, these are the
    /// only trust anchors (the system store is not used).
    std::filesystem::path caFile;
    /// Directory of CA certificates in OpenSSL's hashed layout (openssl rehash).
    std::filesystem::path caDirectory;
    /// Our certificate chain (PEM, leaf first) and its key, for servers that ask for one.
    std::filesystem::path clientCertificateFile;
    std::filesystem::path clientPrivateKeyFile;
    /// Overrides the URI's host for SNI and the certificate's name check ("": the URI's).
    std::string serverName;
    /// Accepts any certificate for any name: no protection against an impostor. For tests
    /// and setups where the network itself is trusted; never the default.
    bool insecureSkipVerify = false;
};

/// Reconnecting after a connection ends (not in Jetty): after every end except a close
/// with 1000 (Normal) or WebSocketClient::stop(), the client connects again with the same
/// listener, after a delay that starts at `initialDelay` and grows by `multiplier` per
/// failed attempt up to `maxDelay`, each scaled by a random factor in [1-jitter, 1+jitter].
/// A new connection starts with a fresh onConnect(Session) (a new Session); nothing sent
/// before is replayed: what to resend is the application's choice.
struct ReconnectPolicy {
    bool enabled = false;
    std::chrono::milliseconds initialDelay{500};
    double multiplier = 2.0;
    std::chrono::milliseconds maxDelay{std::chrono::seconds(30)};
    double jitter = 0.2;
    /// Consecutive failed attempts after which the client gives up (0: never).
    unsigned maxAttempts = 0;
    /// Told of each failed attempt (any client thread): the error, and whether another
    /// attempt follows.
    std::function<void(std::error_code error, bool retrying)> onAttemptFailed;
};

/// What connect() sends beyond the handshake's own fields (Jetty's ClientUpgradeRequest).
struct ClientUpgradeRequest {
    /// Offered in Sec-WebSocket-Protocol, in order of preference.
    std::vector<std::string> subprotocols;
    /// Extra header fields (Authorization, ...). The handshake's own (Host, Upgrade,
    /// Connection, Sec-WebSocket-*) are wharf's and may not be set here.
    Headers headers;
    /// Sent as one Cookie header, "name=value; name2=value2".
    std::vector<std::pair<std::string, std::string>> cookies;
    /// The Origin header ("": none; browsers send one, other clients usually do not).
    std::string origin;
    /// TCP connect (after DNS); over: Errc::ConnectTimeout.
    std::chrono::milliseconds connectTimeout = defaults::connectTimeout;
    /// TLS handshake plus the HTTP upgrade; over: Errc::HandshakeTimeout.
    std::chrono::milliseconds handshakeTimeout = defaults::clientHandshakeTimeout;
    ReconnectPolicy reconnect;
};

/// Why a connect failed: the error (an Errc from docs/client.md's list, or a network error),
/// a sentence, and when the server answered the upgrade with another status than 101
/// (Errc::UpgradeRejected), its status, headers and body (the body up to 64 KiB).
struct ConnectFailure {
    std::error_code code;
    std::string message;
    int status = 0;  ///< 0 when no HTTP response was read
    Headers headers;
    std::string body;
};

/// What the future of connect() throws: a std::system_error with the ConnectFailure.
class UpgradeException : public std::system_error {
public:
    explicit UpgradeException(ConnectFailure failure);
    const ConnectFailure& failure() const noexcept { return failure_; }

private:
    ConnectFailure failure_;
};

/// Connects WebSocketListeners to ws:// and wss:// servers. Many connections share one
/// client: its threads, its TLS context and its timers.
///
/// The listener contract is the server's (WebSocketListener.hpp): callbacks of one
/// connection in order and never concurrent, exactly one onClose after onConnect, a
/// throwing callback closes with 1011. Sessions are the same Session type; for a client
/// session, Session::upgradeRequest() is the request as sent, except that its
/// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions hold what the server accepted.
///
/// Thread-safety: configure before start(); connect() and stop() from any thread.
class WebSocketClient {
public:
    using ConnectCallback = std::function<void(std::error_code error, Session session)>;

    WebSocketClient();
    /// stop()s the client.
    ~WebSocketClient();
    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;

    /// I/O threads (default 1: a client usually holds few connections).
    void setThreads(unsigned threads);
    /// What every session of this client follows: idle timeout, message and frame limits,
    /// send queue limit, close timeout, and the permessage-deflate offer (deflate.enabled:
    /// offer it; windowBits below 15: client_max_window_bits with that value;
    /// clientNoContextTakeover / serverNoContextTakeover: offered as such). allowedOrigins
    /// means nothing here.
    void setPolicy(const WebSocketPolicy& policy);
    const WebSocketPolicy& policy() const noexcept;
    void setTlsOptions(const ClientTlsOptions& options);
    /// How long stop() lets open sessions finish their close handshake.
    void setStopTimeout(std::chrono::milliseconds timeout);

    /// Starts the threads and loads the TLS settings. Throws std::runtime_error naming
    /// the file and the problem (a CA file that does not exist, a key that does not match).
    void start();
    /// Ends every connect attempt in progress (Errc::ClientStopped) and closes every session
    /// with 1001, waits up to the stop timeout for their close handshakes, closes the rest,
    /// and joins the threads. From a client thread (a callback) it cannot join itself: it
    /// returns at once and the destructor waits. Idempotent; start() may follow.
    void stop();
    bool isRunning() const noexcept;

    /// Connects `listener` to `uri` ("ws://host[:port]/path?query" or "wss://...").
    /// The future gives the Session once onConnect has run, or throws UpgradeException.
    /// The listener is the connection's from then on (onConnect ... onClose); a failed
    /// connect calls none of its callbacks.
    std::future<Session> connect(std::shared_ptr<WebSocketListener> listener, std::string_view uri,
                                 ClientUpgradeRequest request = {});
    /// The same, reporting to `done` on a client thread: (error, {}) or ({}, session), after
    /// onConnect. (The status, headers and body of a refused upgrade come with the future's
    /// UpgradeException.)
    void connect(std::shared_ptr<WebSocketListener> listener, std::string_view uri, ClientUpgradeRequest request,
                 ConnectCallback done);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace wharf
