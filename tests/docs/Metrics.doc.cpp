// Compiled, never run: the code quoted by docs/operations.md, "Metrics".

#include <wharf/wharf.hpp>

#include <memory>

namespace docs {

//[metrics_endpoints
std::shared_ptr<wharf::ServletContextHandler> monitoredContext()
{
    auto context = std::make_shared<wharf::ServletContextHandler>("/");
    context->addMetrics("/metrics");  // Prometheus scrapes this
    context->addHealth("/health");    // the load balancer polls this
    return context;
}
//]

//[metrics_snapshot
// The same numbers without HTTP, e.g. for a log line once a minute.
void logLoad(const wharf::Server& server)
{
    const wharf::MetricsSnapshot m = server.metrics();
    wharf::log::info("{} sessions, {} bytes queued, {} sends refused for full queues, {} abnormal closes",
                     m.sessionsOpen, m.bytesQueued, m.sendsRefusedWith(wharf::Errc::SendQueueFull),
                     m.closesWith(wharf::CloseStatus::Abnormal));
}
//]

}  // namespace docs
