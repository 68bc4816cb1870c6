// wharf-echo-client: the client counterpart of wharf-echo, as in Autobahn's client testing.
// It connects, sends every text and binary message back unchanged (same opcode), and lets
// the engine answer pings. The client conformance suite drives it, so its output is a
// contract:
//
//   wharf-echo-client URL [--ca FILE | --insecure] [--deflate] [--max-message BYTES]
//
// - The server closes: the close handshake completes, the last line on stdout is
//   "closed <code>" (the code the server sent; 1005 when its close frame had none, 1006
//   when the connection ended without one), exit status 0.
// - The connect or the handshake fails, or the server breaks the protocol (the engine then
//   fails the connection with the RFC's code: 1002, 1007, 1009, ...): "wharf-echo-client:
//   <reason>" on stderr, exit status 1.
// - Bad arguments: exit status 2.

#include <wharf/wharf.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstddef>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace {

/// How the session ended: the exit status and what to print.
struct Outcome {
    int status = 0;
    std::string line;  // stdout for 0, stderr otherwise
};

class EchoClient : public wharf::WebSocketListener {
public:
    explicit EchoClient(std::size_t pauseAt) : pauseAt_(pauseAt) {}

    std::future<Outcome> outcome() { return outcome_.get_future(); }

    void onConnect(wharf::Session session) override { session_ = std::move(session); }
    void onText(std::string_view message) override { echoed(session_.sendText(message)); }
    void onBinary(std::span<const std::byte> message) override { echoed(session_.sendBinary(message)); }
    // Flow control instead of refusals, as wharf-echo: stop reading while echoes wait.
    void onDrain() override { session_.resume(); }
    void onError(const wharf::Error& error) override
    {
        if (!error_) error_ = error.message.empty() ? error.code.message() : error.message;
    }
    void onClose(wharf::CloseStatus status, std::string_view reason) override
    {
        if (error_) outcome_.set_value({1, fmt::format("wharf-echo-client: {} (closed {})", *error_, static_cast<int>(status))});
        else outcome_.set_value({0, fmt::format("closed {}", static_cast<int>(status))});
        (void)reason;
    }

private:
    void echoed(wharf::SendResult result)
    {
        if (result) {
            if (session_.bufferedAmount() >= pauseAt_) session_.suspend();
            return;
        }
        if (result.error() == wharf::Errc::SessionClosed) return;  // closing anyway
        error_ = "echo refused: " + result.error().message();
        session_.close(wharf::CloseStatus::PolicyViolation, "echo refused", wharf::CloseMode::DiscardQueued);
    }

    wharf::Session session_;
    std::size_t pauseAt_;
    std::optional<std::string> error_;  // the first error: the run failed
    std::promise<Outcome> outcome_;
};

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"wharf-echo-client: echoes every message a WebSocket server sends"};
    std::string url;
    std::string ca;
    bool insecure = false;
    bool deflate = false;
    std::size_t maxMessage = 16 * 1024 * 1024;  // the large echo cases of a conformance suite
    app.add_option("url", url, "ws:// or wss:// URL")->required();
    auto* caOption = app.add_option("--ca", ca, "PEM file of the CA that signed the server's certificate");
    app.add_flag("--insecure", insecure, "do not verify the server's certificate (tests only)")->excludes(caOption);
    app.add_flag("--deflate", deflate, "offer permessage-deflate");
    app.add_option("--max-message", maxMessage, "largest message accepted, in bytes")->check(CLI::PositiveNumber);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    wharf::WebSocketPolicy policy;
    policy.maxTextMessageSize = policy.maxBinaryMessageSize = policy.maxFrameSize = maxMessage;
    // Two of the largest messages fit: the echo that makes the client pause is always queued.
    policy.maxSendQueueSize = 2 * maxMessage + 1024;
    policy.idleTimeout = std::chrono::seconds(60);
    policy.deflate.enabled = deflate;

    wharf::ClientTlsOptions tls;
    tls.caFile = ca;
    tls.insecureSkipVerify = insecure;

    wharf::WebSocketClient client;
    client.setPolicy(policy);
    client.setTlsOptions(tls);
    try {
        client.start();
    } catch (const std::exception& e) {
        fmt::print(stderr, "wharf-echo-client: {}\n", e.what());
        return 1;
    }
    auto listener = std::make_shared<EchoClient>(maxMessage);
    auto outcome = listener->outcome();
    try {
        client.connect(listener, url).get();
    } catch (const wharf::UpgradeException& e) {
        fmt::print(stderr, "wharf-echo-client: {}\n", e.failure().message);
        return 1;
    }
    const Outcome end = outcome.get();
    client.stop();
    if (end.status == 0) {
        fmt::print("{}\n", end.line);
        std::fflush(stdout);
    } else {
        fmt::print(stderr, "{}\n", end.line);
    }
    return end.status;
}
