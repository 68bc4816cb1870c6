// Plain TCP: the HTTP session and the WebSocket stream for boost::asio::ip::tcp::socket.
// The only translation unit that instantiates them.

#include "detail/HttpSession.hpp"
#include "detail/PlainConnection.hpp"
#include "detail/WsConnection.hpp"

#include "detail/Poller.hpp"

#include <boost/asio/dispatch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace wharf::detail {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// One receive buffer per thread, shared by every connection that thread serves:
/// a connection holds none (DESIGN.md, "The data path").
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

boost::system::error_code lastError() { return {errno, boost::system::system_category()}; }
bool wouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/// The WebSocket stream of a plain TCP connection. The descriptor leaves asio after the
/// handshake and is watched by the server's Poller (edge-triggered, registered once):
/// no asio state, pending operation or buffer per connection while it is idle.
class PlainWsConnection final : public WsConnection, private Poller::Target {
public:
    PlainWsConnection(tcp::socket socket, Strand strand, std::shared_ptr<ServerState> server, UpgradeAction& action)
        : WsConnection(std::move(strand), std::move(server), action)
    {
        // Accepted non-blocking, with TCP_NODELAY inherited from the listening socket
        // (Server.cpp): no system calls here but asio's deregistration.
        boost::system::error_code ec;
        if (!socket.non_blocking()) socket.non_blocking(true, ec);
#ifndef __linux__
        socket.set_option(tcp::no_delay(true), ec);
#endif
        fd_ = socket.release(ec);
        if (ec) fd_ = -1;
    }

    ~PlainWsConnection() override
    {
        // Normally closed already (a registered connection owns itself); not after
        // Poller::shutdown or when it never got as far as reading.
        if (fd_ < 0) return;
        if (registered_) poller().remove(fd_, *this);
        ::close(fd_);
    }

private:
    // --- readiness (Poller thread, its lock held): hand the work to the strand ----------
    void onPollEvents(std::uint32_t events) override
    {
        auto self = std::static_pointer_cast<PlainWsConnection>(weak_from_this().lock());
        if (!self) return;  // being destroyed: its destructor waits in Poller::remove
        auto work = [self = std::move(self), events] { self->onEvents(events); };
        if (poller().singleThreaded()) net::dispatch(strand_, std::move(work));
        else net::post(strand_, std::move(work));
    }

    void onEvents(std::uint32_t events)
    {
        if (fd_ < 0) return;
        if (waitingWrite_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continueWrite();
        if (fd_ < 0) return;
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
            if (draining_) drain();
            else if (reading_ && !readStopped_) readLoop();
        }
    }

    // --- reading ------------------------------------------------------------------------
    void doRead() override
    {
        // Called once, from start(). Registering reports readiness that is there already.
        // Registered before (a write of onConnect had to wait for the socket): an edge for
        // data that arrived meanwhile was ignored (not reading yet), so look now.
        if (fd_ < 0) return;
        reading_ = true;
        if (!registered_) {
            if (const int e = registerFd()) onReadError({e, boost::system::system_category()});
            return;
        }
        readLoop();
    }

    /// Into the Poller (once): 0 or the errno.
    int registerFd()
    {
        if (const int e = poller().add(fd_, *this)) return e;
        registered_ = true;
        self_ = shared_from_this();  // no pending operation holds an idle connection: it holds itself
        return 0;
    }

    std::shared_ptr<void> onPollerShutdown() override
    {
        // The server's threads are gone; Poller::shutdown holds its locks.
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        registered_ = false;
        return std::move(self_);
    }

    /// Reads into the thread's buffer until the socket is drained (edge-triggered: a read
    /// that fills less than the buffer took everything there was).
    void readLoop()
    {
        auto& buffer = threadReadBuffer();
        for (int i = 0; i < readsPerWakeup; ++i) {
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n > 0) {
                if (!onBytes(buffer.data(), static_cast<std::size_t>(n))) return;
                if (static_cast<std::size_t>(n) < buffer.size()) return;  // drained: wait for the next edge
                continue;
            }
            if (n == 0) return onReadError(net::error::eof);
            if (errno == EINTR) continue;
            if (wouldBlock(errno)) return;
            return onReadError(lastError());
        }
        // Busy peer: let other connections run, then continue.
        net::post(strand_, [self = shared_from_this(), this] {
            if (fd_ >= 0 && !readStopped_ && !draining_) readLoop();
        });
    }

    // --- writing ------------------------------------------------------------------------
    /// Writes what the socket takes now; the bytes written (errors: -1 with errno).
    ssize_t writeSome(std::span<const net::const_buffer> buffers)
    {
        std::array<iovec, 64> iov;
        std::size_t count = 0;
        for (const auto& b : buffers) {
            if (count == iov.size()) break;
            if (b.size() == 0) continue;
            iov[count].iov_base = const_cast<void*>(b.data());
            iov[count].iov_len = b.size();
            ++count;
        }
        if (count == 0) return 0;
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        for (;;) {
            const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
            if (n >= 0 || errno != EINTR) return n;
        }
    }

    std::size_t doTryWrite(std::span<const net::const_buffer> buffers) override
    {
        if (fd_ < 0 || shutDown_) return 0;
        const ssize_t n = writeSome(buffers);
        return n > 0 ? static_cast<std::size_t>(n) : 0;  // errors are doWrite's to report
    }

    void doWrite(std::vector<net::const_buffer>& buffers) override
    {
        pending_ = &buffers;  // the connection's write batch: valid until onWriteDone
        waitingWrite_ = true;
        if (!registered_ && fd_ >= 0) {
            // Not reading yet (a close queued before the first read): EPOLLOUT is still needed.
            if (const int e = registerFd()) return finishWrite({e, boost::system::system_category()});
        }
        continueWrite();
    }

    void continueWrite()
    {
        while (fd_ >= 0) {
            auto& pending = *pending_;
            const ssize_t n = writeSome(pending);
            if (n < 0) {
                if (wouldBlock(errno)) return;  // the next EPOLLOUT edge continues
                return finishWrite(lastError());
            }
            auto left = static_cast<std::size_t>(n);
            std::size_t i = 0;
            while (i < pending.size() && left >= pending[i].size()) left -= pending[i++].size();
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
            if (pending.empty()) return finishWrite({});
            pending.front() += left;
        }
        finishWrite(net::error::operation_aborted);
    }

    /// A write waiting for the socket ends with operation_aborted (its callbacks learn it),
    /// later on the strand: this runs inside teardown.
    void abortWrite()
    {
        if (!waitingWrite_) return;
        waitingWrite_ = false;
        pending_ = nullptr;
        net::post(strand_, [self = shared_from_this(), this] { onWriteDone(net::error::operation_aborted); });
    }

    void finishWrite(const boost::system::error_code& ec)
    {
        waitingWrite_ = false;
        pending_ = nullptr;
        onWriteDone(ec);
    }

    // --- closing ------------------------------------------------------------------------
    void doCloseSocket() override
    {
        if (fd_ < 0 || shutDown_) return;
        abortWrite();
        if (peerSentClose()) {
            // The close handshake is complete: the peer sends nothing more (RFC 6455 5.5.1),
            // so with nothing unread a plain close cannot reset the connection, and our close
            // frame leaves ahead of the FIN. No lingering needed.
            auto& buffer = threadReadBuffer();
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n <= 0) return closeSocket();  // nothing unread (EAGAIN), EOF or an error
            // It did send more: drain it as below.
        }
        shutDown_ = true;
        if (::shutdown(fd_, SHUT_WR) != 0) return closeSocket();
        setStreamDeadline(lingerTimeout);  // then onStreamDeadline
        draining_ = true;
        if (!registered_) {
            if (registerFd() != 0) closeSocket();
            return;  // readiness that is there already is reported at once
        }
        drain();
    }

    void drain()
    {
        auto& buffer = threadReadBuffer();
        for (;;) {
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && wouldBlock(errno)) return;  // the next edge continues
            return closeSocket();  // EOF: the peer closed too (or an error)
        }
    }

    void onStreamDeadline() override { closeSocket(); }

    void closeSocket()
    {
        if (fd_ < 0) return;
        clearStreamDeadline();
        if (registered_) poller().remove(fd_, *this);  // never called again after this
        registered_ = false;
        ::close(fd_);
        fd_ = -1;
        draining_ = false;
        abortWrite();
        const auto last = std::move(self_);  // may be the last reference: released on return
    }

    Poller& poller() const noexcept { return serverState().poller; }
    int fd_ = -1;
    bool registered_ = false;    // in the Poller
    bool reading_ = false;       // doRead() was called: read on readiness
    bool waitingWrite_ = false;  // pending_ waits for EPOLLOUT
    bool shutDown_ = false;      // our FIN is sent
    bool draining_ = false;      // lingering close: read and drop until EOF
    std::vector<net::const_buffer>* pending_ = nullptr;  // the rest of a write the socket did not take
    std::shared_ptr<WsConnection> self_;       // while registered
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
                                                      UpgradeAction::of(*handoff));
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
