// PolledWsConnection: the transport contract (detail/Transport.hpp) over the Poller, for
// plain and TLS connections alike.

#include "detail/Transport.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <unistd.h>

#include <chrono>

namespace wharf::detail {
namespace net = boost::asio;

namespace {

/// One receive buffer per thread, shared by every connection that thread serves, plain or
/// TLS: a connection holds none (docs/architecture.md, "The data path").
std::vector<char>& threadReadBuffer()
{
    thread_local std::vector<char> buffer(256 * 1024);
    return buffer;
}

// What one readiness wake-up may read before yielding to other connections on the thread.
constexpr std::size_t readBudgetPerWakeup = 1024 * 1024;
// After our close (FIN or close_notify), how long we drain the peer's leftovers so what we
// sent is not destroyed by an RST (a lingering close), or wait for the peer's close_notify.
constexpr auto lingerTimeout = std::chrono::seconds(2);

}  // namespace

PolledWsConnection::PolledWsConnection(int fd, Strand strand, std::shared_ptr<PolledHost> host,
                                       UpgradeAction& action, Role role)
    : WsConnection(std::move(strand), host, action, role), fd_(fd)
{
    setFlushGroup(host->flushGroupFor(strand_));
}

PolledWsConnection::~PolledWsConnection()
{
    // Normally closed already (a registered connection owns itself); not after
    // Poller::shutdown or when it never got as far as reading.
    if (fd_ < 0) return;
    if (registered_) poller().remove(fd_, *this);
    ::close(fd_);
}

// --- readiness (Poller thread, its lock held): hand the work to the strand --------------

void PolledWsConnection::onPollEvents(std::uint32_t events)
{
    auto self = std::static_pointer_cast<PolledWsConnection>(weak_from_this().lock());
    if (!self) return;  // being destroyed: its destructor waits in Poller::remove
    auto work = [self = std::move(self), events] { self->onEvents(events); };
    if (poller().singleThreaded()) net::dispatch(strand_, std::move(work));
    else net::post(strand_, std::move(work));
}

void PolledWsConnection::onEvents(std::uint32_t events)
{
    const bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP);
    const bool writable = events & (EPOLLOUT | EPOLLERR | EPOLLHUP);
    const auto ready = [&](IoWant want) { return want == IoWant::Write ? writable : readable; };
    if (fd_ < 0) return;
    if (waitingWrite_ && ready(writeWants_)) continueWrite();
    else if (shutdownWaiting_ && writable) shutDownOutput(false);
    if (fd_ < 0 || !ready(readWants_)) return;
    if (draining_ || (reading_ && !readStopped_)) readLoop();
}

std::shared_ptr<void> PolledWsConnection::onPollerShutdown()
{
    // The server's threads are gone; Poller::shutdown holds its locks.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    registered_ = false;
    return std::move(self_);
}

/// Into the Poller (once): 0 or the errno. Readiness that is there already is reported at once.
int PolledWsConnection::registerFd()
{
    if (const int e = poller().add(fd_, *this)) return e;
    registered_ = true;
    self_ = shared_from_this();  // no pending operation holds an idle connection: it holds itself
    return 0;
}

// --- reading ----------------------------------------------------------------------------

void PolledWsConnection::doRead()
{
    // Called once, from start(). Registered before (a write of onConnect had to wait for
    // the socket): an edge for data that arrived meanwhile was ignored (not reading yet),
    // so look now; likewise for bytes the transport holds that no edge will announce.
    if (fd_ < 0) return;
    reading_ = true;
    const bool registered = registered_;
    if (!registered) {
        if (const int e = registerFd()) return onReadError({e, boost::system::system_category()});
    }
    if (registered || holdsUnread()) readLoop();
}

/// Reads into the thread's buffer until the transport must wait (edge-triggered: only then
/// will an edge announce more), handing what it got to the engine, or dropping it while
/// lingering. Consecutive reads that do not wait are gathered into one buffer's worth
/// (TLS: a record each), so a frame that spans records usually arrives whole.
void PolledWsConnection::readLoop()
{
    auto& buffer = threadReadBuffer();
    for (std::size_t handled = 0; handled < readBudgetPerWakeup;) {
        std::size_t filled = 0;
        IoResult r;
        do {
            r = receive(buffer.data() + filled, buffer.size() - filled);
            filled += r.bytes;
        } while (r.bytes && r.want == IoWant::Nothing && filled < buffer.size());
        handled += filled;
        if (filled && !draining_ && !onBytes(buffer.data(), filled)) return;
        if (fd_ < 0) return;
        if (r.ec) {
            if (draining_) return closeSocket();  // the peer's end (or an error): done lingering
            return onReadError(r.ec);
        }
        if (r.want != IoWant::Nothing) {
            readWants_ = r.want;  // the next edge of that kind continues
            return;
        }
    }
    // Busy peer: let other connections run, then continue.
    net::post(strand_, [self = shared_from_this(), this] {
        if (fd_ >= 0 && (draining_ || (reading_ && !readStopped_))) readLoop();
    });
}

// --- writing ----------------------------------------------------------------------------

namespace {
std::size_t totalSize(std::span<const net::const_buffer> buffers)
{
    std::size_t n = 0;
    for (const auto& b : buffers) n += b.size();
    return n;
}
}  // namespace

std::size_t PolledWsConnection::doTryWrite(std::span<const net::const_buffer> buffers)
{
    if (fd_ < 0 || closing_ || waitingWrite_) return 0;
    const std::size_t total = totalSize(buffers);
    std::size_t written = 0;
    while (written < total) {
        const auto r = send(buffers, written);
        written += r.bytes;
        if (r.ec || r.want != IoWant::Nothing || !r.bytes) break;  // errors are doWrite's to report
    }
    return written;
}

void PolledWsConnection::doWrite(std::vector<net::const_buffer>& buffers)
{
    pending_ = &buffers;  // the connection's write batch: valid until onWriteDone, consumed in place
    waitingWrite_ = true;
    writeWants_ = IoWant::Write;
    if (!registered_ && fd_ >= 0) {
        // Not reading yet (a close queued before the first read): the edges are still needed.
        if (const int e = registerFd()) return finishWrite({e, boost::system::system_category()});
    }
    continueWrite();
}

void PolledWsConnection::continueWrite()
{
    auto& pending = *pending_;
    while (fd_ >= 0) {
        if (pending.empty()) return finishWrite({});
        const auto r = send(pending, 0);
        // Only what was reported written goes: a TLS record begun but not finished is
        // offered again from its first byte, as OpenSSL requires.
        auto left = r.bytes;
        std::size_t i = 0;
        while (i < pending.size() && left >= pending[i].size()) left -= pending[i++].size();
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
        if (!pending.empty()) pending.front() += left;
        if (r.ec) return finishWrite(r.ec);
        if (r.want != IoWant::Nothing) {
            writeWants_ = r.want;  // the next edge of that kind continues
            return;
        }
    }
    finishWrite(net::error::operation_aborted);
}

void PolledWsConnection::finishWrite(const boost::system::error_code& ec)
{
    waitingWrite_ = false;
    pending_ = nullptr;
    onWriteDone(ec);
}

/// A write waiting for the socket ends with operation_aborted (its callbacks learn it),
/// later on the strand: this runs inside teardown.
void PolledWsConnection::abortWrite()
{
    if (!waitingWrite_) return;
    waitingWrite_ = false;
    pending_ = nullptr;
    net::post(strand_, [self = shared_from_this(), this] { onWriteDone(net::error::operation_aborted); });
}

// --- closing ----------------------------------------------------------------------------

void PolledWsConnection::doCloseSocket()
{
    if (fd_ < 0 || closing_) return;
    closing_ = true;
    const bool writeCutShort = waitingWrite_;
    abortWrite();
    shutDownOutput(writeCutShort);
}

void PolledWsConnection::shutDownOutput(bool writeCutShort)
{
    const auto outcome = shutdownOutput(writeCutShort);
    if (outcome == Shutdown::Close) return closeSocket();
    // Bounds the shutdown and the drain (then onStreamDeadline); set once.
    if (!shutdownWaiting_) setStreamDeadline(lingerTimeout);
    shutdownWaiting_ = outcome == Shutdown::WaitWritable;
    if (shutdownWaiting_) {
        if (!registered_ && registerFd() != 0) closeSocket();
        return;
    }
    draining_ = true;
    readWants_ = IoWant::Read;
    if (!registered_) {
        if (registerFd() != 0) closeSocket();
        return;  // readiness that is there already is reported at once
    }
    // Drained in a later turn, not here: this may run inside onBytes, whose bytes are in
    // the thread's buffer that the drain reads into.
    net::post(strand_, [self = shared_from_this(), this] {
        if (fd_ >= 0 && draining_) readLoop();
    });
}

void PolledWsConnection::closeSocket()
{
    if (fd_ < 0) return;
    clearStreamDeadline();
    if (registered_) poller().remove(fd_, *this);  // never called again after this
    registered_ = false;
    ::close(fd_);
    fd_ = -1;
    draining_ = shutdownWaiting_ = false;
    abortWrite();
    const auto last = std::move(self_);  // may be the last reference: released on return
}

}  // namespace wharf::detail
