#pragma once
// TLS connectors: the SSL context built from SslConfig, and accepted TLS connections.

#include "detail/ServerState.hpp"

#include <wharf/Server.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace wharf::detail {

struct TlsContext;

/// Builds the context; throws std::runtime_error naming the file and what is wrong.
std::shared_ptr<TlsContext> makeTlsContext(const SslConfig& config);

/// Serves a freshly accepted TLS connection: handshake (with its timeout), then HTTP.
void startTlsConnection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerState> server,
                        std::shared_ptr<TlsContext> context);

}  // namespace wharf::detail
