#pragma once

#include "detail/ServerState.hpp"
#include "protocol/Role.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace wharf::detail {

/// Serves a freshly accepted plain TCP connection (HTTP, then maybe WebSocket).
/// The socket's executor must be a Strand.
/// `peer` is the address accept reported.
void startPlainConnection(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer,
                          std::shared_ptr<ServerState> server);

class WsConnection;
struct UpgradeAction;

/// A WebSocket connection in `role` over a connected socket (a client's: the server's are
/// made by its HTTP sessions), on `host`'s Poller; start() it on `strand`.
std::shared_ptr<WsConnection> makePlainWsConnection(boost::asio::ip::tcp::socket socket, StrandPool::Strand strand,
                                                    std::shared_ptr<PolledHost> host, UpgradeAction& action,
                                                    Role role);

}  // namespace wharf::detail
