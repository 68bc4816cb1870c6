// Plain TCP: the HTTP session and the WebSocket stream for boost::asio::ip::tcp::socket.
// The only translation unit that instantiates them.

#include "detail/HttpSession.hpp"
#include "detail/PlainConnection.hpp"

#include <boost/asio/write.hpp>

namespace wharf::detail {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// One receive buffer per thread, shared by every connection that thread serves:
/// an idle connection holds none (DESIGN.md, "The data path").
std::vector<char>& threadReadBuffer()
{
    thread_local std::vector<char> buffer(256 * 1024);
    return buffer;
}

// How many reads one readiness wake-up may do before yielding to other connections.
constexpr int readsPerWakeup = 4;
// After our close frame and TCP shutdown, how long we drain the peer's leftovers so the
// close frame is not destroyed by an RST (a lingering close).
constexpr auto lingerTimeout = std::chrono::seconds(2);

class PlainWsConnection final : public WsConnection {
public:
    PlainWsConnection(tcp::socket socket, Strand strand, std::shared_ptr<ServerState> server,
                      std::shared_ptr<UpgradeAction> action, std::string remote)
        : WsConnection(std::move(strand), std::move(server), std::move(action), std::move(remote)),
          socket_(std::move(socket))
    {
        // Accepted non-blocking, with TCP_NODELAY inherited from the listening socket
        // (Server.cpp): no system calls here.
        boost::system::error_code ec;
        if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
#ifndef __linux__
        socket_.set_option(tcp::no_delay(true), ec);
#endif
    }

private:
    void doRead() override
    {
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), this](const boost::system::error_code& ec) {
            onReadable(ec);
        });
    }

    void onReadable(const boost::system::error_code& waitError)
    {
        if (readStopped_) return;
        if (waitError) return onReadError(waitError);
        auto& buffer = threadReadBuffer();
        for (int i = 0; i < readsPerWakeup; ++i) {
            boost::system::error_code ec;
            const std::size_t n = socket_.read_some(net::buffer(buffer), ec);
            if (ec == net::error::would_block || ec == net::error::try_again) return doRead();
            if (ec) return onReadError(ec);
            if (!onBytes(buffer.data(), n)) return;
            if (n < buffer.size()) return doRead();  // drained; asio re-arms epoll on wait
        }
        // Busy peer: let other connections run, then continue.
        net::post(strand_, [self = shared_from_this(), this] { onReadable({}); });
    }

    void doWrite(const std::vector<net::const_buffer>& buffers) override
    {
        auto done = [self = shared_from_this(), this](const boost::system::error_code& ec, std::size_t) {
            onWriteDone(ec);
        };
        // One buffer (the usual rest of a partial write) needs no copy of the vector.
        if (buffers.size() == 1) net::async_write(socket_, buffers.front(), std::move(done));
        else net::async_write(socket_, buffers, std::move(done));
    }

    std::size_t doTryWrite(std::span<const net::const_buffer> buffers) override
    {
        if (closing_) return 0;
        boost::system::error_code ec;
        const std::size_t n = socket_.write_some(buffers, ec);  // the socket is non-blocking
        return ec ? 0 : n;
    }

    void doCloseSocket() override
    {
        if (closing_ || !socket_.is_open()) return;
        closing_ = true;
        boost::system::error_code ec;
        if (peerSentClose()) {
            // The close handshake is complete: the peer sends nothing more (RFC 6455 5.5.1),
            // so with nothing unread a plain close cannot reset the connection, and our close
            // frame leaves ahead of the FIN. No lingering needed (saves shutdown, a wait and
            // its epoll_ctl, the final read).
            socket_.read_some(net::buffer(threadReadBuffer()), ec);
            if (ec == net::error::would_block || ec == net::error::try_again || ec == net::error::eof) {
                socket_.close(ec);
                return;
            }
            if (ec) {
                socket_.close(ec);
                return;
            }
            // It did send more: drain it as below.
        }
        socket_.shutdown(tcp::socket::shutdown_send, ec);
        if (ec) {
            socket_.close(ec);
            return;
        }
        setStreamDeadline(lingerTimeout);  // then onStreamDeadline
        drain();
    }

    void drain()
    {
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), this](const boost::system::error_code& e) {
            if (e) return closeSocket();
            auto& buffer = threadReadBuffer();
            for (;;) {
                boost::system::error_code ec;
                socket_.read_some(net::buffer(buffer), ec);
                if (ec == net::error::would_block || ec == net::error::try_again) return drain();
                if (ec) return closeSocket();  // EOF: the peer closed too
            }
        });
    }

    void onStreamDeadline() override { closeSocket(); }

    void closeSocket()
    {
        boost::system::error_code ec;
        clearStreamDeadline();
        socket_.close(ec);
    }

    tcp::socket socket_;
    bool closing_ = false;
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

    void startWebSocket(std::shared_ptr<UpgradeAction> action, std::string_view early)
    {
        auto ws = std::make_shared<PlainWsConnection>(stream_.release_socket(), strand_, server_, std::move(action),
                                                      remote_);
        ws->start(early);
    }

private:
    beast::tcp_stream stream_;
};

}  // namespace

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
