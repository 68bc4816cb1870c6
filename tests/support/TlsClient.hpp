#pragma once
// A blocking TLS test client over Beast (ssl_stream + websocket::stream): verifies the
// server certificate against a CA file with SNI and host name checks, speaks HTTPS
// requests and then, optionally, WebSocket on the same connection. Every operation is
// bounded by a timeout (run on a private io_context with run_for), so a test never hangs.

#include "support/RawClient.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::test {

class TlsClient {
public:
    struct Message {
        bool binary = false;
        std::string data;
    };

    struct Options {
        std::string serverName = "localhost";  ///< sent as SNI ("": none), and the name verified
        bool verifyName = true;                ///< false: verify the chain only (which certificate came?)
        std::string alpn = std::string("\x08http/1.1", 9);  ///< wire format; "": no ALPN
    };

    /// Connects to 127.0.0.1:port and completes the TLS handshake, verifying the server's
    /// certificate for `hostName` against `caFile`. `alpn` is the ALPN list in wire format
    /// (length-prefixed names); empty: no ALPN. Throws on any failure.
    TlsClient(std::uint16_t port, const std::filesystem::path& caFile, std::string hostName = "localhost",
              std::string alpn = std::string("\x08http/1.1", 9));
    /// The same, with SNI and the name check as `options` say.
    TlsClient(std::uint16_t port, const std::filesystem::path& caFile, Options options);
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    /// The protocol the server selected by ALPN ("" when none).
    std::string alpnSelected() const;
    /// The subject CN of the certificate the server presented.
    std::string peerCommonName() const;
    /// Its DNS subjectAltNames, in certificate order.
    std::vector<std::string> peerNames() const;
    /// HTTPS GET with keep-alive; throws on timeout.
    HttpResponse get(std::string_view target, std::chrono::milliseconds timeout = 5s);
    /// WebSocket opening handshake on this connection; throws unless 101.
    void upgrade(std::string_view target, std::chrono::milliseconds timeout = 5s);
    void sendText(std::string_view text, std::chrono::milliseconds timeout = 5s);
    void sendBinary(std::string_view data, std::chrono::milliseconds timeout = 5s);
    /// The next message; nullopt once the server closed (see closeCode) or on timeout.
    std::optional<Message> read(std::chrono::milliseconds timeout = 5s);
    /// The close code the server sent (0 until a close frame arrived).
    std::uint16_t closeCode() const noexcept { return closeCode_; }
    /// Sends a close frame and waits for the server's answer.
    void close(std::uint16_t code = 1000, std::chrono::milliseconds timeout = 5s);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::uint16_t closeCode_ = 0;
};

}  // namespace wharf::test
