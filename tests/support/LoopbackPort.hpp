#pragma once
// Loopback ports for tests that start other programs (wharf-chat, nginx, redis-server),
// whose port must be known before they start.

#include <chrono>
#include <cstdint>

namespace wharf::test {

/// A 127.0.0.1 port nobody listens on right now. Another process may take it before the
/// caller binds it: a start that fails with "address in use" should be retried.
std::uint16_t freeLoopbackPort();

/// True once a TCP connect to 127.0.0.1:`port` succeeds, trying every 10 ms until `timeout`.
bool waitUntilAccepting(std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace wharf::test
