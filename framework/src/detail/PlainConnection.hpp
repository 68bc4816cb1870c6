#pragma once

#include "detail/ServerState.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace wharf::detail {

/// Serves a freshly accepted plain TCP connection (HTTP, then maybe WebSocket).
/// The socket's executor must be a Strand.
/// `peer` is the address accept reported.
void startPlainConnection(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer,
                          std::shared_ptr<ServerState> server);

}  // namespace wharf::detail
