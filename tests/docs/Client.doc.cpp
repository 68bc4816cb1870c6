// Compiled, never run: the code quoted by docs/client.md.

#include <wharf/wharf.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace docs {

//[client_connect
class Ticker : public wharf::WebSocketAdapter {
public:
    void onConnect(wharf::Session session) override
    {
        WebSocketAdapter::onConnect(session);
        session.sendText(R"({"subscribe":"BTC-EUR"})");
    }
    void onText(std::string_view message) override { std::printf("%.*s\n", int(message.size()), message.data()); }
    void onClose(wharf::CloseStatus status, std::string_view reason) override
    {
        WebSocketAdapter::onClose(status, reason);
        std::printf("closed %d\n", static_cast<int>(status));
    }
};

void subscribe()
{
    wharf::WebSocketClient client;  // one client for many connections
    client.start();

    wharf::ClientUpgradeRequest request;
    request.subprotocols = {"ticker.v2"};
    request.headers.add("Authorization", "Bearer 3f9c...");
    request.connectTimeout = std::chrono::seconds(5);
    try {
        wharf::Session session = client.connect(std::make_shared<Ticker>(), "wss://example.com/ticker", request).get();
        // ... the Ticker gets its messages on a client thread ...
        session.close(wharf::CloseStatus::Normal, "bye");
    } catch (const wharf::UpgradeException& e) {
        const wharf::ConnectFailure& failure = e.failure();
        if (failure.code == wharf::Errc::UpgradeRejected)
            std::printf("refused with %d: %s\n", failure.status, failure.body.c_str());
        else
            std::printf("cannot connect: %s\n", failure.message.c_str());
    }
    client.stop();  // open sessions get 1001 first
}
//]

//[client_callback
void connectWithCallback(wharf::WebSocketClient& client, std::shared_ptr<wharf::WebSocketListener> listener)
{
    client.connect(listener, "ws://127.0.0.1:8080/chat", {}, [](std::error_code error, wharf::Session session) {
        if (error == wharf::Errc::ConnectionRefused) std::printf("nobody listens there\n");
        else if (!error) session.sendText("alice");
    });
}
//]

//[client_tls
void trustOurCa(wharf::WebSocketClient& client)
{
    wharf::ClientTlsOptions tls;
    tls.caFile = "/etc/myapp/ca.pem";  // only this CA; without it, the system's trust store
    tls.clientCertificateFile = "/etc/myapp/client.pem";  // optional: for servers that ask
    tls.clientPrivateKeyFile = "/etc/myapp/client-key.pem";
    client.setTlsOptions(tls);
    client.start();  // throws std::runtime_error naming a file that is missing or unusable
}
//]

//[client_policy
void limits(wharf::WebSocketClient& client)
{
    wharf::WebSocketPolicy policy;  // the server's policy type, the same meaning
    policy.idleTimeout = std::chrono::minutes(5);
    policy.maxTextMessageSize = policy.maxBinaryMessageSize = policy.maxFrameSize = 16 * 1024 * 1024;
    policy.maxSendQueueSize = 32 * 1024 * 1024;
    policy.deflate.enabled = true;  // offer permessage-deflate
    policy.deflate.windowBits = 12; // client_max_window_bits=12: a smaller compressor
    client.setPolicy(policy);
}
//]

//[client_reconnect
void keepConnected(wharf::WebSocketClient& client, std::shared_ptr<wharf::WebSocketListener> listener)
{
    wharf::ClientUpgradeRequest request;
    request.reconnect.enabled = true;
    request.reconnect.initialDelay = std::chrono::milliseconds(500);
    request.reconnect.multiplier = 2.0;
    request.reconnect.maxDelay = std::chrono::seconds(30);
    request.reconnect.jitter = 0.2;
    request.reconnect.maxAttempts = 0;  // forever
    request.reconnect.onAttemptFailed = [](std::error_code error, bool retrying) {
        std::printf("reconnect failed: %s%s\n", error.message().c_str(), retrying ? "" : "; giving up");
    };
    client.connect(listener, "wss://example.com/feed", request);  // each reconnect: a fresh onConnect
}
//]

}  // namespace docs
