// A program using an installed or vendored wharf: starts a server on a free port,
// checks it answers, stops it.
#include <wharf/wharf.hpp>

#include <cstdio>

int main()
{
    wharf::Server server;
    server.addConnector({"127.0.0.1", 0, std::nullopt});
    server.setThreads(1);
    auto context = std::make_shared<wharf::ServletContextHandler>("/");
    context->addWebSocket("/ws", [](wharf::WebSocketServletFactory& f) { f.addMapping<wharf::WebSocketAdapter>("/"); });
    server.setHandler(context);
    server.start();
    const bool ok = server.port() != 0 && server.isRunning();
    server.stop();
    std::puts(ok ? "consumer: ok" : "consumer: FAILED");
    return ok ? 0 : 1;
}
