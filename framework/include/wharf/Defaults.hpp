#pragma once
// Every default wharf uses, each with the reason it was chosen.

#include <chrono>
#include <cstddef>

namespace wharf::defaults {

// Jetty's WebSocket idle timeout; long enough for chat clients that are quiet for a while.
inline constexpr std::chrono::milliseconds idleTimeout{std::chrono::seconds(30)};
// Jetty's default max text/binary message size (64 KiB): large enough for chat and
// dashboards, small enough that one hostile client cannot make the server buffer much.
inline constexpr std::size_t maxTextMessageSize = 64 * 1024;
inline constexpr std::size_t maxBinaryMessageSize = 64 * 1024;
// A single frame may be as large as a message; a smaller limit only adds failures.
inline constexpr std::size_t maxFrameSize = 64 * 1024;
// Bytes a session may have queued for sending before further sends fail with
// Errc::SendQueueFull (uWS's maxBackpressure idea; 4 MiB fits bursts of a live feed).
inline constexpr std::size_t maxSendQueueSize = 4 * 1024 * 1024;
// A message must arrive completely within this time of its first frame, or the session
// closes with 1008: a peer that trickles a message cannot hold its buffer forever. A
// minute carries a 64 KiB message over the slowest link a browser still works on.
inline constexpr std::chrono::milliseconds messageTimeout{std::chrono::seconds(60)};
// How long a close handshake we started waits for the peer's close frame before the
// socket is closed anyway (a silent peer must not hold the connection forever).
inline constexpr std::chrono::milliseconds closeTimeout{std::chrono::seconds(5)};

// Server-wide: bytes queued for sending by all WebSocket sessions together. The per-session
// limit alone lets 1,000 clients that stop reading hold 1,000 x 4 MiB; over this budget the
// sessions holding the most are closed with 1008 until the total is under it again.
inline constexpr std::size_t maxQueuedBytes = 256 * 1024 * 1024;
// Server-wide: bytes of incoming messages still being assembled (after inflating), all
// sessions together. 15 KB of deflate can inflate to 15 MiB, so a handful of clients could
// otherwise hold gigabytes; over it the sessions holding the most are closed with 1009.
inline constexpr std::size_t maxPartialMessageBytes = 128 * 1024 * 1024;

// HTTP: 8 KiB of request line + headers (Jetty's requestHeaderSize); more gets 431.
inline constexpr std::size_t maxHeaderSize = 8 * 1024;
// HTTP: request bodies above 1 MiB get 413 (servlets here are small control endpoints).
inline constexpr std::size_t maxBodySize = 1024 * 1024;
// HTTP: a request must arrive completely within this time (slowloris guard) ...
inline constexpr std::chrono::milliseconds requestTimeout{std::chrono::seconds(30)};
// ... and an idle keep-alive connection is closed after this long (Jetty's idleTimeout).
inline constexpr std::chrono::milliseconds keepAliveTimeout{std::chrono::seconds(30)};
// Connections per server: no bound. The process's descriptor limit (ulimit -n) is the
// bound that always exists, and the acceptor already backs off when it is reached; a
// lower number is a capacity decision only the operator can make (Jetty's
// ConnectionLimit is opt-in too).
inline constexpr std::size_t maxConnections = 0;
// WebSocket sessions per server: no bound, for the same reason.
inline constexpr std::size_t maxSessions = 0;
// Connections from one remote address: no bound. Many users share one address behind a
// NAT or a proxy, so any default would refuse some of them.
inline constexpr std::size_t maxConnectionsPerAddress = 0;
// Retry-After of the 503 an upgrade gets over maxSessions: long enough that a reconnect
// loop does not hammer a full server, short enough to fill a slot soon after it frees.
inline constexpr std::chrono::seconds retryAfter{5};

// Keep-alive pings: off. The idle timeout (30 s) already closes a peer that went silent,
// and pings only matter to an application that lengthens or disables it.
inline constexpr std::chrono::milliseconds pingInterval{0};
// A peer that does not answer a keep-alive ping (with a pong or anything else) within
// this long is taken for dead: longer than a mobile link's worst round trip, shorter than
// the 30 s after which load balancers typically drop an idle TCP connection.
inline constexpr std::chrono::milliseconds pongTimeout{std::chrono::seconds(10)};

// Server::stop(): how long open sessions may drain queued messages after the 1001 close.
inline constexpr std::chrono::milliseconds stopTimeout{std::chrono::seconds(5)};

// TLS: handshakes in progress per TLS connector. A stalled one (silent, or a partial
// ClientHello) holds about 60 KiB until the handshake timeout: 1024 cap that near 64 MiB,
// while a healthy handshake is over in a few round trips and never gets near the bound.
inline constexpr std::size_t maxTlsHandshakes = 1024;
// ... and from one remote address: a quarter of that, so no single address takes the
// whole budget, yet above what one busy host or a large NAT opens at once (a load
// generator such as wharf-bench keeps 200 connects in flight).
inline constexpr std::size_t maxTlsHandshakesPerAddress = 256;

// WebSocketClient: a TCP connect that takes longer than this goes nowhere (a SYN to a host
// that is down is retried for minutes by the kernel); 10 s covers slow mobile links.
inline constexpr std::chrono::milliseconds connectTimeout{std::chrono::seconds(10)};
// WebSocketClient: the TLS handshake and the HTTP upgrade together, as SslConfig's
// handshakeTimeout bounds the server's side.
inline constexpr std::chrono::milliseconds clientHandshakeTimeout{std::chrono::seconds(10)};
// permessage-deflate: zlib's defaults for window and memory; messages below the
// threshold are sent uncompressed (RFC 7692 allows it; compressing tiny frames costs
// more than it saves).
inline constexpr int deflateWindowBits = 15;
inline constexpr int deflateMemLevel = 8;
inline constexpr std::size_t deflateThreshold = 64;

}  // namespace wharf::defaults
