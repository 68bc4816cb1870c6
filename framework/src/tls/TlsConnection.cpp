// TEMPORARY: TLS connectors are being implemented (issue 4); until then a TLS connector
// fails at start() with a clear message.
#include "detail/TlsConnection.hpp"

#include <stdexcept>

namespace wharf::detail {

struct TlsContext {};

std::shared_ptr<TlsContext> makeTlsContext(const SslConfig&)
{
    throw std::runtime_error("TLS connectors are not supported by this build yet");
}

void startTlsConnection(boost::asio::ip::tcp::socket, std::shared_ptr<ServerState>, std::shared_ptr<TlsContext>) {}

}  // namespace wharf::detail
