// Plain TCP: the HTTP session and the WebSocket stream for boost::asio::ip::tcp::socket.
// The only translation unit that instantiates them.

#include "detail/HttpSession.hpp"
#include "detail/PlainConnection.hpp"
#include "detail/WsConnection.hpp"

#include "detail/Transport.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <span>

namespace wharf::detail {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// The plain TCP transport under PolledWsConnection (detail/Transport.hpp): recv, sendmsg
/// and a FIN, straight on the descriptor.
class PlainWsConnection final : public PolledWsConnection {
public:
    PlainWsConnection(tcp::socket socket, Strand strand, std::shared_ptr<PolledHost> host, UpgradeAction& action,
                      Role role)
        : PolledWsConnection(releaseDescriptor(socket), std::move(strand), std::move(host), action, role)
    {
    }

private:
    static int releaseDescriptor(tcp::socket& socket)
    {
        // Accepted non-blocking, with TCP_NODELAY inherited from the listening socket
        // (Server.cpp): no system calls here but asio's deregistration.
        boost::system::error_code ec;
        if (!socket.non_blocking()) socket.non_blocking(true, ec);
#ifndef __linux__
        socket.set_option(tcp::no_delay(true), ec);
#endif
        const int fd = socket.release(ec);
        return ec ? -1 : fd;
    }

    static IoResult failure() { return {0, IoWant::Nothing, {errno, boost::system::system_category()}}; }
    static bool wouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK; }

    IoResult receive(char* data, std::size_t size) override
    {
        for (;;) {
            const ssize_t n = ::recv(fd(), data, size, 0);
            // A read that fills less than it could took everything there was: wait for the
            // next edge rather than find nothing with another recv.
            if (n > 0)
                return {static_cast<std::size_t>(n), static_cast<std::size_t>(n) < size ? IoWant::Read : IoWant::Nothing, {}};
            if (n == 0) return {0, IoWant::Nothing, net::error::eof};
            if (errno == EINTR) continue;
            if (wouldBlock()) return {0, IoWant::Read, {}};
            return failure();
        }
    }

    IoResult send(std::span<const net::const_buffer> buffers, std::size_t skip) override
    {
        std::array<iovec, 64> iov;
        std::size_t count = 0;
        std::size_t offered = 0;
        for (const auto& b : buffers) {
            if (count == iov.size()) break;
            if (skip >= b.size()) {
                skip -= b.size();
                continue;
            }
            iov[count].iov_base = const_cast<char*>(static_cast<const char*>(b.data()) + skip);
            iov[count].iov_len = b.size() - skip;
            offered += iov[count].iov_len;
            skip = 0;
            ++count;
        }
        if (count == 0) return {};
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        for (;;) {
            const ssize_t n = ::sendmsg(fd(), &msg, MSG_NOSIGNAL);
            // A short write means the socket is full: the next EPOLLOUT edge says when not.
            if (n >= 0)
                return {static_cast<std::size_t>(n), static_cast<std::size_t>(n) < offered ? IoWant::Write : IoWant::Nothing, {}};
            if (errno == EINTR) continue;
            if (wouldBlock()) return {0, IoWant::Write, {}};
            return failure();
        }
    }

    Shutdown shutdownOutput(bool) override
    {
        if (peerSentClose()) {
            // The close handshake is complete: the peer sends nothing more (RFC 6455 5.5.1),
            // so with nothing unread a plain close cannot reset the connection, and our close
            // frame leaves ahead of the FIN. No lingering needed.
            char byte;
            if (::recv(fd(), &byte, 1, MSG_PEEK) <= 0) return Shutdown::Close;  // nothing unread, EOF or an error
            // It did send more: drain it, lingering.
        }
        return ::shutdown(fd(), SHUT_WR) == 0 ? Shutdown::Linger : Shutdown::Close;
    }
};

class PlainHttpSession final : public HttpSession<PlainHttpSession>,
                               public std::enable_shared_from_this<PlainHttpSession> {
public:
    PlainHttpSession(tcp::socket socket, Strand strand, std::shared_ptr<ServerState> server, std::string remote)
        : HttpSession(std::move(strand), std::move(server), std::move(remote)), stream_(std::move(socket))
    {
    }

    void run() { startHttp(); }

    beast::tcp_stream& stream() { return stream_; }
    bool secure() const { return false; }

    void shutdown()
    {
        unregister();
        boost::system::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.close();
    }

    void closeNow()
    {
        unregister();
        stream_.close();
    }

    void startWebSocket(std::shared_ptr<ProtocolSwitch> handoff, std::string_view early)
    {
        auto ws = std::make_shared<PlainWsConnection>(stream_.release_socket(), strand_, server_,
                                                      UpgradeAction::of(*handoff), Role::Server);
        ws->start(early);
    }

private:
    beast::tcp_stream stream_;
};

}  // namespace

std::shared_ptr<WsConnection> makePlainWsConnection(tcp::socket socket, Strand strand, std::shared_ptr<PolledHost> host,
                                                    UpgradeAction& action, Role role)
{
    return std::make_shared<PlainWsConnection>(std::move(socket), std::move(strand), std::move(host), action, role);
}

void startPlainConnection(tcp::socket socket, const tcp::endpoint& endpoint, std::shared_ptr<ServerState> server)
{
    // Non-blocking from the start: asio's asynchronous operations then need no ioctl of
    // their own, and the WebSocket stream's direct reads and writes rely on it.
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (ec) return;
    auto strand = *socket.get_executor().target<Strand>();
    auto session = std::make_shared<PlainHttpSession>(std::move(socket), std::move(strand), std::move(server),
                                                      fmt::format("{}", endpoint));
    session->run();
}

}  // namespace wharf::detail
