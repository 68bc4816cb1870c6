#pragma once
// The server side of the client conformance suite: one listening socket on 127.0.0.1:0,
// the client under test started as a child process pointed at it, and the one connection
// it opens, spoken to in exact bytes. Every read and the child's exit are bounded in time;
// the destructor kills a child that is still running, so no case can hang or leak one.
//
// The client under test (the "subject") is a command template with {url} in it:
// WHARF_CLIENT_SUBJECT from the environment, else the wharf-echo-client this build made
// (WHARF_ECHO_CLIENT, set by tests/CMakeLists.txt), followed by the case's own arguments.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace wharf::conformance::client {

using namespace std::chrono_literals;

/// What the subject's opening handshake request said (RFC 6455 4.1).
struct UpgradeRequestSeen {
    std::string method, target, version;
    std::vector<std::pair<std::string, std::string>> headers;
    /// The value of the first header with this name (case-insensitive), if any.
    std::optional<std::string> header(std::string_view name) const;
    /// True when the comma-separated header `name` holds `token` (case-insensitive).
    bool hasToken(std::string_view name, std::string_view token) const;
};

/// One frame as the subject sent it: header bits, mask key, payload already unmasked.
struct ClientFrame {
    bool fin = true;
    std::uint8_t rsv = 0;  // RSV1..3 as bits 4..6 of the first byte
    std::uint8_t opcode = 0;
    bool masked = false;
    std::uint32_t maskKey = 0;
    std::string payload;
    bool rsv1() const { return rsv & 0x40; }
    /// For close frames: the code (0 when the payload is empty).
    std::uint16_t closeCode() const;
};

/// How the subject ended.
struct SubjectExit {
    bool exited = false;  // false: still running at the deadline (then killed)
    int code = -1;        // exit status, or 128 + signal
    std::string out, err;
    /// The last non-empty line of stdout.
    std::string lastLine() const;
};

class FakeServer {
public:
    /// No: the port is bound but not listening, so the subject's connect is refused.
    enum class Listen { Yes, No };
    /// Listens, then starts the subject with ws://127.0.0.1:<port><path> and `args`.
    explicit FakeServer(std::vector<std::string> args = {}, std::string path = "/", Listen listen = Listen::Yes);
    ~FakeServer();
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    std::uint16_t port() const { return port_; }
    /// Accepts the subject's connection and reads its request head. Throws on timeout.
    const UpgradeRequestSeen& readRequest(std::chrono::milliseconds wait = 5s);
    /// The 101 a correct server sends for the request read, with extra header lines.
    std::string switchingProtocols(std::string_view extraHeaders = {}) const;
    /// readRequest() and the correct 101.
    const UpgradeRequestSeen& open(std::string_view extraHeaders = {});

    void send(std::string_view bytes);
    /// An unmasked frame, as a server writes it (masked only to break the rules).
    static std::string frame(std::uint8_t opcode, std::string_view payload, bool fin = true, std::uint8_t rsv = 0,
                             bool masked = false);
    void sendFrame(std::uint8_t opcode, std::string_view payload, bool fin = true, std::uint8_t rsv = 0)
    {
        send(frame(opcode, payload, fin, rsv));
    }
    void sendClose(std::uint16_t code, std::string_view reason = {});
    /// Sends FIN but keeps reading: what the subject sends after it is still seen.
    void halfClose();
    /// Half-closes, then closes the TCP connection (the server closes first, RFC 6455 7.1.1).
    void closeTcp();

    /// The subject's next frame; nullopt on timeout or when it closed TCP.
    std::optional<ClientFrame> readFrame(std::chrono::milliseconds wait = 5s);
    /// Waits for the subject to close TCP; true if it did, false on timeout or when bytes
    /// arrived first (they are kept in `unexpected`).
    bool waitForEof(std::chrono::milliseconds wait, std::string* unexpected = nullptr);
    /// True when nothing arrives and the connection stays open for `wait`.
    bool staysQuiet(std::chrono::milliseconds wait);

    /// Waits for the subject to exit; kills it at the deadline.
    SubjectExit waitExit(std::chrono::milliseconds wait = 5s);
    /// The command line the subject was started with (for failure messages).
    const std::string& commandLine() const { return commandLine_; }

private:
    bool fill(std::chrono::steady_clock::time_point deadline);
    bool need(std::size_t n, std::chrono::steady_clock::time_point deadline);
    void spawn(const std::vector<std::string>& argv);

    int listenFd_ = -1;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::string buf_;
    bool eof_ = false;
    UpgradeRequestSeen request_;
    pid_t pid_ = -1;
    std::string outPath_, errPath_, commandLine_;
};

/// base64(SHA-1(key + GUID)) (RFC 6455 4.2.2), computed here with OpenSSL rather than
/// with the library under test, so a bug there cannot cancel itself out.
std::string expectedAccept(std::string_view key);
/// The number of bytes a base64 value decodes to, or -1 when it is not base64.
int base64DecodedSize(std::string_view value);

}  // namespace wharf::conformance::client
