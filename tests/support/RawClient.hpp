#pragma once
// A test client that speaks exact bytes over a blocking POSIX socket with timeouts:
// HTTP requests, the WebSocket handshake, and hand-built (masked) frames.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::test {

using namespace std::chrono_literals;

struct HttpResponse {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const;
};

struct Frame {
    bool fin = true;
    bool rsv1 = false;
    std::uint8_t opcode = 0;
    std::string payload;
    /// For close frames: the code (0 when the payload is empty).
    std::uint16_t closeCode() const;
    std::string closeReason() const;
};

class RawClient {
public:
    RawClient() = default;
    RawClient(std::uint16_t port, std::string host = "127.0.0.1");
    ~RawClient();
    RawClient(RawClient&& other) noexcept;
    RawClient& operator=(RawClient&& other) noexcept;

    void connect(std::uint16_t port, std::string host = "127.0.0.1");
    bool isConnected() const noexcept { return fd_ >= 0; }
    void close();
    /// Half-closes our sending side.
    void shutdownSend();

    void sendRaw(std::string_view bytes);
    /// Reads one HTTP response (headers + Content-Length body). Throws on timeout.
    /// `head`: the response answers a HEAD request, so no body follows its Content-Length.
    HttpResponse readResponse(std::chrono::milliseconds timeout = 5s, bool head = false);
    /// Sends `GET target` with Host and any extra header lines ("Name: value\r\n").
    HttpResponse get(std::string_view target, std::string_view extraHeaders = {});

    /// Performs the opening handshake; returns the server's response (101 on success).
    HttpResponse handshake(std::string_view target = "/", std::string_view extraHeaders = {});

    /// Sends a frame, masked unless `masked` is false. `rsv` holds RSV1..3 as bits 4..6 of byte 0.
    void sendFrame(std::uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true,
                   std::uint8_t rsv = 0);
    void sendText(std::string_view text) { sendFrame(0x1, text); }
    void sendBinary(std::string_view data) { sendFrame(0x2, data); }
    void sendClose(std::uint16_t code, std::string_view reason = {});
    /// Builds the frame bytes without sending (for byte-by-byte or batched writes).
    static std::string buildFrame(std::uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true,
                                  std::uint8_t rsv = 0);
    /// A masked frame header whose first byte is `b0` and which announces `length` payload
    /// bytes (in the minimal length form; any length, even one with the top bit set).
    static std::string buildHeader(std::uint8_t b0, std::uint64_t length);

    /// Reads one frame; nullopt on timeout or when the connection closed.
    std::optional<Frame> readFrame(std::chrono::milliseconds timeout = 5s);
    /// Reads frames until a close frame; returns it (nullopt if the connection ended first).
    /// Data frames met on the way are appended to `skipped` when given.
    std::optional<Frame> readUntilClose(std::chrono::milliseconds timeout = 5s, std::vector<Frame>* skipped = nullptr);
    /// True when the server closes the TCP connection (EOF or reset) within the timeout.
    bool waitForEof(std::chrono::milliseconds timeout = 5s);

private:
    bool fill(std::chrono::steady_clock::time_point deadline);  // reads more into buf_; false on EOF/timeout
    bool need(std::size_t n, std::chrono::steady_clock::time_point deadline);
    int fd_ = -1;
    std::string buf_;
    std::uint16_t port_ = 0;
};

}  // namespace wharf::test
