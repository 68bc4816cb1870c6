#pragma once
// TLS connectors: the SSL contexts built from SslConfig (several certificates chosen by
// SNI, reloadable), the bound on handshakes in progress, and accepted TLS connections.

#include "detail/ServerState.hpp"
#include "protocol/Role.hpp"

#include <wharf/Server.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace wharf::detail {

struct TlsContext;
class CertificateSet;

/// Builds the context; throws std::runtime_error naming the file and what is wrong.
std::shared_ptr<TlsContext> makeTlsContext(const SslConfig& config);

/// A reload, in two steps so that several connectors change all or none: reads the
/// connector's certificate and key files again (throws as makeTlsContext does, and then
/// nothing changed), ...
std::shared_ptr<const CertificateSet> loadCertificates(const TlsContext& context);
/// ... then makes them the ones new handshakes use. Handshakes in progress and open
/// connections keep theirs. Thread-safety: safe against handshakes on any thread.
void useCertificates(TlsContext& context, std::shared_ptr<const CertificateSet> certificates);
/// How many certificates the set has (for the log).
std::size_t certificateCount(const CertificateSet& certificates);

/// Serves a freshly accepted TLS connection: handshake (with its timeout), then HTTP.
/// `peer` is the address accept reported. With SslConfig::maxHandshakesPerAddress
/// handshakes from that address already in progress, the socket is closed at once.
void startTlsConnection(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer,
                        std::shared_ptr<ServerState> server, std::shared_ptr<TlsContext> context);

/// Names the connector ("127.0.0.1:8443") in the budget's log lines; after binding.
void setConnectorName(TlsContext& context, std::string name);

/// The acceptor's question after each accept: true when SslConfig::maxHandshakes handshakes
/// are in progress. The acceptor then stops accepting (the kernel's backlog holds new
/// connections), and `resume` is called, once, from the thread that finishes a handshake.
bool pauseAccepting(TlsContext& context, std::function<void()> resume);
/// The acceptor is closing: a stored `resume` is dropped and never called.
void stopAccepting(TlsContext& context);

class TlsStream;
class WsConnection;
struct UpgradeAction;

/// A WebSocket connection in `role` over `stream` after its handshake (a client's: the
/// server's are made by its HTTP sessions): the descriptor and the engine leave the stream
/// for `host`'s Poller. start() it on `strand`.
std::shared_ptr<WsConnection> makeTlsWsConnection(TlsStream& stream, StrandPool::Strand strand,
                                                  std::shared_ptr<PolledHost> host, UpgradeAction& action, Role role);

}  // namespace wharf::detail
