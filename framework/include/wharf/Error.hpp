#pragma once
// wharf's own error codes and the error object handed to listeners and callbacks.

#include <string>
#include <system_error>

namespace wharf {

/// Failures wharf reports itself. Values never change meaning; retired ones keep their number.
enum class Errc {
    SessionClosed = 1,      ///< the session's connection is closed or closing; nothing was sent
    SendQueueFull = 2,      ///< the send would exceed the session's max send queue size
    ProtocolError = 3,      ///< the peer violated RFC 6455 (closed with 1002)
    InvalidUtf8 = 4,        ///< a text message or close reason was not UTF-8 (closed with 1007)
    MessageTooBig = 5,      ///< a message or frame exceeded the limit (closed with 1009)
    ListenerThrew = 6,      ///< a listener callback threw (closed with 1011)
    CompressionError = 7,   ///< a permessage-deflate payload could not be inflated (closed with 1007)
    ServerStopping = 8,     ///< the server is stopping: a send after stop() began, or (onError) a session closed by force at the stop timeout
    InvalidArgument = 9,    ///< a control frame payload over 125 bytes, an invalid close code, ...
    CloseTimeout = 10,      ///< the peer did not answer our close frame in time
    MessageTimeout = 11,    ///< a message was not complete within the message timeout (closed with 1008)
    MemoryBudgetExceeded = 12,  ///< the server-wide send or receive budget was exceeded and this session held the most (closed with 1008 or 1009)
    // WebSocketClient::connect (docs/client.md, "Errors"):
    InvalidUri = 13,            ///< the URI is not ws://host[:port][/path] or wss://...
    DnsFailure = 14,            ///< the host name did not resolve
    ConnectionRefused = 15,     ///< nothing listens at the address (TCP RST)
    ConnectFailed = 16,         ///< TCP connect failed otherwise (unreachable network or host, ...)
    ConnectTimeout = 17,        ///< TCP connect took longer than ClientUpgradeRequest::connectTimeout
    HandshakeTimeout = 18,      ///< the TLS handshake or the HTTP upgrade took longer than handshakeTimeout
    TlsHandshakeFailed = 19,    ///< the TLS handshake failed for a reason other than the certificate
    CertificateUnknownCa = 20,  ///< the server's certificate is not signed by a trusted CA (or self-signed)
    CertificateExpired = 21,    ///< the server's certificate (or one in its chain) is expired or not yet valid
    CertificateHostnameMismatch = 22,  ///< the server's certificate is not for the host connected to
    CertificateInvalid = 23,    ///< the server's certificate failed verification otherwise (revoked, bad signature, ...)
    UpgradeRejected = 24,       ///< the server answered with a status other than 101 (ConnectFailure has it)
    BadHandshakeResponse = 25,  ///< the server's answer is not HTTP/1.1, is malformed or too large
    MissingUpgradeHeaders = 26, ///< a 101 without "Upgrade: websocket" and "Connection: upgrade"
    BadAcceptKey = 27,          ///< a 101 whose Sec-WebSocket-Accept does not match our key
    UnexpectedSubprotocol = 28, ///< a 101 naming a subprotocol we did not offer
    UnexpectedExtension = 29,   ///< a 101 naming an extension (or parameters) we did not offer
    ClientStopped = 30,         ///< the WebSocketClient is not started, or stop() ended the attempt
    PongTimeout = 31,       ///< nothing came back within the pong timeout after a keep-alive ping; the TCP connection was dropped (onClose 1006)
    BrokerUnavailable = 32, ///< a publish through the Redis broker was not accepted by Redis in time (or Redis is unreachable); see docs/scaling.md
};

const std::error_category& errorCategory() noexcept;

inline std::error_code make_error_code(Errc e) noexcept
{
    return {static_cast<int>(e), errorCategory()};
}

/// An error reported to WebSocketListener::onError: the code (wharf::Errc or a network
/// error from the system/asio categories) and a sentence saying what happened.
struct Error {
    std::error_code code;
    std::string message;

    /// "message (category:value)" for logs.
    std::string what() const;
};

}  // namespace wharf

template <>
struct std::is_error_code_enum<wharf::Errc> : std::true_type {};
