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
    // Two ways of waiting for data:
    // - quiet (no buffer): async_wait, then read into the thread's buffer. asio re-arms
    //   epoll (EPOLL_CTL_MOD) for every such wait: a system call per read.
    // - busy (after data arrived): a speculative async_receive into a small buffer of the
    //   connection's own. asio then reads when epoll reports data and re-arms nothing, so
    //   a read costs one recv and no epoll_ctl. Back to quiet (buffer freed) after
    //   quietAfter without traffic (WsConnection::onTimer -> releaseReadBuffer).
    void doRead() override
    {
        if (demoting_) {
            demoting_ = false;
            ownBuffer_.reset();
        }
        if (ownBuffer_) {
            socket_.async_receive(net::buffer(ownBuffer_.get(), ownBufferSize),
                                  [self = shared_from_this(), this](const boost::system::error_code& ec, std::size_t n) {
                                      onReceived(ec, n);
                                  });
            return;
        }
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), this](const boost::system::error_code& ec) {
            onReadable(ec);
        });
    }

    void onReceived(const boost::system::error_code& ec, std::size_t n)
    {
        if (readStopped_) return;
        if (ec == net::error::operation_aborted && demoting_) return doRead();  // quiet now
        if (ec) return onReadError(ec);
        if (n < ownBufferSize) {
            if (!onBytes(ownBuffer_.get(), n)) return;
            return doRead();
        }
        // The buffer is full: more is waiting. Continue in the thread's large buffer, in
        // one piece, so that large frames stay whole (no copy to assemble them).
        std::memcpy(threadReadBuffer().data(), ownBuffer_.get(), n);
        readLoop(n);
    }

    void onReadable(const boost::system::error_code& waitError)
    {
        if (readStopped_) return;
        if (waitError) return onReadError(waitError);
        if (!ownBuffer_) {
            ownBuffer_.reset(new char[ownBufferSize]);  // busy from now on
            rearmDeadline();                            // to be told when it is quiet again
        }
        readLoop(0);
    }

    /// Reads into the thread's buffer after its first `have` bytes, until drained.
    void readLoop(std::size_t have)
    {
        auto& buffer = threadReadBuffer();
        for (int i = 0; i < readsPerWakeup; ++i) {
            boost::system::error_code ec;
            std::size_t n = socket_.read_some(net::buffer(buffer.data() + have, buffer.size() - have), ec);
            if (ec == net::error::would_block || ec == net::error::try_again) {
                if (have > 0 && !onBytes(buffer.data(), have)) return;
                return doRead();
            }
            if (ec) {
                if (have > 0 && !onBytes(buffer.data(), have)) return;
                return onReadError(ec);
            }
            n += have;
            have = 0;
            if (!onBytes(buffer.data(), n)) return;
            if (n < buffer.size()) return doRead();  // drained
        }
        // Busy peer: let other connections run, then continue.
        net::post(strand_, [self = shared_from_this(), this] { onReadable({}); });
    }

    bool holdsReadBuffer() const noexcept override { return ownBuffer_ && !demoting_; }

    void releaseReadBuffer() override
    {
        // Strand; nothing is being written (WsConnection checked), so the only operation
        // cancel() ends is the pending receive: it completes with operation_aborted and
        // doRead() frees the buffer and waits the quiet way.
        if (!ownBuffer_ || demoting_ || closing_) return;
        demoting_ = true;
        boost::system::error_code ec;
        socket_.cancel(ec);
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

    static constexpr std::size_t ownBufferSize = 16 * 1024;

    tcp::socket socket_;
    std::unique_ptr<char[]> ownBuffer_;  // busy: the pending receive's buffer
    bool demoting_ = false;              // busy -> quiet once the receive is cancelled
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
