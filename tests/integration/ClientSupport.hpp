#pragma once
// Helpers of the WebSocketClient tests: a server answering the upgrade with bytes the test
// chooses, ports nobody listens on, and a connect that returns the failure.

#include <wharf/wharf.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace wharf::test {

/// A listening loopback socket (port 0) with `backlog`; closed on destruction.
class ListeningSocket {
public:
    explicit ListeningSocket(int backlog = 16) : fd_(::socket(AF_INET, SOCK_STREAM, 0))
    {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(fd_, backlog) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
            throw std::runtime_error("ListeningSocket: cannot listen");
        port_ = ntohs(address.sin_port);
    }
    ~ListeningSocket() { close(); }
    ListeningSocket(const ListeningSocket&) = delete;
    ListeningSocket& operator=(const ListeningSocket&) = delete;

    int fd() const noexcept { return fd_; }
    std::uint16_t port() const noexcept { return port_; }
    void close()
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
    std::uint16_t port_ = 0;
};

/// Answers one upgrade with `respond(key)` (the client's Sec-WebSocket-Key), then holds the
/// connection until the client closes it (or 5 s pass).
class ScriptedUpgradeServer {
public:
    explicit ScriptedUpgradeServer(std::function<std::string(const std::string& key)> respond)
        : respond_(std::move(respond)), thread_([this] { serve(); })
    {
    }
    ~ScriptedUpgradeServer()
    {
        stop_ = true;
        thread_.join();
    }
    std::uint16_t port() const noexcept { return socket_.port(); }
    /// The request as received (after the connection ended).
    std::string request() { return request_.get_future().get(); }

private:
    void serve()
    {
        pollfd p{socket_.fd(), POLLIN, 0};
        while (!stop_ && ::poll(&p, 1, 50) == 0) {}
        if (stop_) return request_.set_value("");
        const int fd = ::accept(socket_.fd(), nullptr, nullptr);
        std::string in;
        char buffer[4096];
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        // Until the end of the header; not HTTP at all (a TLS ClientHello): answered at once.
        while (in.find("\r\n\r\n") == std::string::npos && (in.empty() || in[0] == 'G') &&
               std::chrono::steady_clock::now() < deadline) {
            pollfd q{fd, POLLIN, 0};
            if (::poll(&q, 1, 50) <= 0) continue;
            const auto n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0) break;
            in.append(buffer, static_cast<std::size_t>(n));
        }
        std::string key;
        if (const auto at = in.find("Sec-WebSocket-Key: "); at != std::string::npos)
            key = in.substr(at + 19, in.find("\r\n", at) - at - 19);
        const auto out = respond_(key);
        (void)::write(fd, out.data(), out.size());
        while (!stop_ && std::chrono::steady_clock::now() < deadline) {
            pollfd q{fd, POLLIN, 0};
            if (::poll(&q, 1, 50) <= 0) continue;
            if (::read(fd, buffer, sizeof buffer) <= 0) break;
        }
        ::close(fd);
        request_.set_value(in);
    }

    ListeningSocket socket_;
    std::function<std::string(const std::string&)> respond_;
    std::promise<std::string> request_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// A one-thread Server on 127.0.0.1:`port` (0: a free one, then `port` is set to it) with a
/// root context set up by `setup`: for a server that stops and comes back on the same port.
/// Retries for a second while the port is still taken by the previous one's connections.
inline std::unique_ptr<Server> startOnPort(std::uint16_t& port, const std::function<void(ServletContextHandler&)>& setup)
{
    for (int attempt = 0;; ++attempt) {
        auto server = std::make_unique<Server>();
        ServerConnector c;
        c.host = "127.0.0.1";
        c.port = port;
        server->addConnector(c);
        server->setThreads(1);
        auto context = std::make_shared<ServletContextHandler>("/");
        setup(*context);
        server->setHandler(context);
        try {
            server->start();
        } catch (const std::runtime_error&) {
            if (attempt == 20) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        port = server->port();
        return server;
    }
}

/// The failure of a connect that must fail (a success fails the test).
inline ConnectFailure connectFailure(WebSocketClient& client, std::string_view uri, ClientUpgradeRequest request = {})
{
    try {
        auto session = client.connect(std::make_shared<WebSocketListener>(), uri, std::move(request)).get();
        FAIL("connected to " << uri << " but should not have");
        session.disconnect();
    } catch (const UpgradeException& e) {
        return e.failure();
    }
    return {};
}

}  // namespace wharf::test
