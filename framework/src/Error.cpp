#include <wharf/CloseStatus.hpp>
#include <wharf/Error.hpp>

#include <fmt/format.h>

namespace wharf {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "wharf"; }
    std::string message(int value) const override
    {
        switch (static_cast<Errc>(value)) {
        case Errc::SessionClosed: return "the WebSocket session is closed";
        case Errc::SendQueueFull: return "the session's send queue is full";
        case Errc::ProtocolError: return "WebSocket protocol error";
        case Errc::InvalidUtf8: return "invalid UTF-8 in a text message or close reason";
        case Errc::MessageTooBig: return "message too big";
        case Errc::ListenerThrew: return "a listener callback threw";
        case Errc::CompressionError: return "invalid permessage-deflate data";
        case Errc::ServerStopping: return "the server is stopping";
        case Errc::InvalidArgument: return "invalid argument";
        case Errc::CloseTimeout: return "the peer did not answer the close frame in time";
        case Errc::MessageTimeout: return "the message was not complete within the message timeout";
        case Errc::MemoryBudgetExceeded: return "the server's WebSocket memory budget was exceeded";
        case Errc::InvalidUri: return "not a ws:// or wss:// URI";
        case Errc::DnsFailure: return "the host name does not resolve";
        case Errc::ConnectionRefused: return "connection refused";
        case Errc::ConnectFailed: return "cannot connect";
        case Errc::ConnectTimeout: return "connect timed out";
        case Errc::HandshakeTimeout: return "the opening handshake timed out";
        case Errc::TlsHandshakeFailed: return "the TLS handshake failed";
        case Errc::CertificateUnknownCa: return "the server's certificate is not signed by a trusted CA";
        case Errc::CertificateExpired: return "the server's certificate is expired or not yet valid";
        case Errc::CertificateHostnameMismatch: return "the server's certificate is not for this host name";
        case Errc::CertificateInvalid: return "the server's certificate failed verification";
        case Errc::UpgradeRejected: return "the server refused the WebSocket upgrade";
        case Errc::BadHandshakeResponse: return "the server's handshake response is malformed";
        case Errc::MissingUpgradeHeaders: return "the 101 response lacks \"Upgrade: websocket\" or \"Connection: upgrade\"";
        case Errc::BadAcceptKey: return "the 101 response's Sec-WebSocket-Accept is wrong";
        case Errc::UnexpectedSubprotocol: return "the server chose a subprotocol that was not offered";
        case Errc::UnexpectedExtension: return "the server chose an extension that was not offered";
        case Errc::ClientStopped: return "the WebSocket client is stopped";
        case Errc::PongTimeout: return "the peer did not answer a keep-alive ping in time";
        case Errc::BrokerUnavailable: return "the broker (Redis) did not accept the publish in time";
        }
        return "unknown wharf error";
    }
};

}  // namespace

const std::error_category& errorCategory() noexcept
{
    static const Category category;
    return category;
}

std::string Error::what() const
{
    return fmt::format("{} ({}:{})", message.empty() ? code.message() : message, code.category().name(),
                       code.value());
}

std::string_view closeStatusName(CloseStatus status) noexcept
{
    switch (status) {
    case CloseStatus::Normal: return "Normal";
    case CloseStatus::GoingAway: return "GoingAway";
    case CloseStatus::ProtocolError: return "ProtocolError";
    case CloseStatus::UnsupportedData: return "UnsupportedData";
    case CloseStatus::NoStatus: return "NoStatus";
    case CloseStatus::Abnormal: return "Abnormal";
    case CloseStatus::InvalidPayload: return "InvalidPayload";
    case CloseStatus::PolicyViolation: return "PolicyViolation";
    case CloseStatus::MessageTooBig: return "MessageTooBig";
    case CloseStatus::MandatoryExtension: return "MandatoryExtension";
    case CloseStatus::InternalError: return "InternalError";
    case CloseStatus::ServiceRestart: return "ServiceRestart";
    case CloseStatus::TryAgainLater: return "TryAgainLater";
    case CloseStatus::TlsHandshakeFailed: return "TlsHandshakeFailed";
    }
    const auto code = static_cast<std::uint16_t>(status);
    return code >= 3000 && code <= 4999 ? "Application" : "Unknown";
}

}  // namespace wharf
