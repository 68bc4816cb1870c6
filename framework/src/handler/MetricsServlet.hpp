#pragma once
// The Prometheus text exposition (format 0.0.4) of a MetricsSnapshot, as the metrics
// endpoint serves it (ServletContextHandler::addMetrics).

#include <wharf/Metrics.hpp>

#include <string>

namespace wharf::detail {

/// Every value of `metrics` as `wharf_...` families with HELP and TYPE lines.
std::string formatPrometheus(const MetricsSnapshot& metrics);

}  // namespace wharf::detail
