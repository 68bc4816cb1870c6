#pragma once
// A wharf::Server on an ephemeral loopback port, started in the constructor and
// stopped in the destructor, with a ServletContextHandler at "/" to configure.

#include <wharf/wharf.hpp>

#include <functional>
#include <memory>

namespace wharf::test {

class TestServer {
public:
    /// `setup` configures the root context before start().
    explicit TestServer(const std::function<void(ServletContextHandler&)>& setup, unsigned threads = 2,
                        const std::function<void(Server&)>& configureServer = {})
        : context_(std::make_shared<ServletContextHandler>("/"))
    {
        ServerConnector c;
        c.host = "127.0.0.1";
        c.port = 0;
        server_.addConnector(c);
        server_.setThreads(threads);
        setup(*context_);
        server_.setHandler(context_);
        if (configureServer) configureServer(server_);
        server_.start();
    }
    ~TestServer() { server_.stop(); }

    std::uint16_t port() const { return server_.port(); }
    Server& server() { return server_; }

private:
    Server server_;
    std::shared_ptr<ServletContextHandler> context_;
};

}  // namespace wharf::test
