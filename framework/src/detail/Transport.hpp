#pragma once
// The transport contract of a WebSocket connection, plain or TLS: written down once here,
// implemented once (PolledWsConnection, http/Transport.cpp) over two transports, plain TCP
// (http/PlainConnection.cpp) and TLS (tls/TlsConnection.cpp, OpenSSL through tls/TlsStream).
//
// One readiness model for both: after the HTTP phase (on asio) the socket leaves asio
// (release()) and is registered once with the server's Poller (detail/Poller.hpp),
// edge-triggered, for reading and writing. Then:
//
//   readable ─▶ read into the thread's buffer, until the transport says it must wait
//               (plain: a short recv; TLS: SSL_read wants the socket), at most
//               readBudgetPerWakeup bytes per turn, then the rest in a later turn
//   send     ─▶ try-write: the bytes go straight to the non-blocking descriptor
//               (plain: sendmsg; TLS: encrypted record by record); what is not taken
//   writable ─▶ waits for the next EPOLLOUT edge, from the connection's own batch
//   close    ─▶ shut down output (plain: FIN; TLS: close_notify), then read and drop
//               until the peer's end (EOF or its close_notify), bounded by the lingering
//               deadline, then close the descriptor
//
// Either direction may wait for the other readiness: OpenSSL's SSL_read may have to write
// (a TLS 1.3 KeyUpdate answer), and its SSL_write may have to read; each direction keeps
// what it waits for (IoWant), and an edge of that kind continues it.
//
// Who owns whom: the Poller registration owns the connection (a reference to itself) from
// the first read or write until the descriptor is closed; nothing else keeps an idle
// connection alive, and Poller::shutdown ends those still registered when the server
// stops. The connection owns its descriptor and its transport (TLS: the SSL object).
// `Session` handles hold it weakly.
//
// Threads: the Poller hands each event to the connection's strand (inline with one server
// thread, posted with more); every call below runs on that strand, one at a time, in
// order: reads, writes, the close, deadlines and the listener calls they lead to. A send
// from another thread is queued and flushed on the strand (WsConnection). No call here
// blocks or waits: a transport call returns at once with bytes, a readiness to wait for,
// or an error, and a busy connection yields after its budget. So listener calls of
// different connections on one thread never block each other more than the thread
// itself does.
//
// What an idle connection holds: its registration and its transport's state (TLS:
// OpenSSL's, with SSL_MODE_RELEASE_BUFFERS no record buffers). No asio state, no pending
// operation, no read buffer (the thread's is shared), no write buffer (only a write that
// waits for EPOLLOUT keeps a batch of its own).

#include "detail/IoResult.hpp"
#include "detail/Poller.hpp"
#include "detail/WsConnection.hpp"

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace wharf::detail {

/// A WebSocket connection on the Poller: the registration, the readiness loop, the write
/// wait and the lingering close, the same for every transport. A transport implements
/// the three calls below; all run on the strand and never block.
class PolledWsConnection : public WsConnection, private Poller::Target {
public:
    ~PolledWsConnection() override;

protected:
    /// `fd`: the connected socket, non-blocking, released from asio (-1: failed); closed
    /// by this connection. `host`: a server's state or a client's, whose Poller it joins.
    PolledWsConnection(int fd, Strand strand, std::shared_ptr<PolledHost> host, UpgradeAction& action, Role role);

    /// Reads into `data`. bytes > 0 with want Nothing: call again; want Read with or
    /// without bytes: nothing more until the socket is readable again (plain: a short
    /// read drained it); want Write: the transport must write first (TLS).
    virtual IoResult receive(char* data, std::size_t size) = 0;
    /// Writes from byte `skip` of `buffers`. want Write: the socket is full (a TLS record
    /// already begun must be offered again from the same bytes); want Read: TLS must read
    /// first; Nothing: call again for the rest.
    virtual IoResult send(std::span<const boost::asio::const_buffer> buffers, std::size_t skip) = 0;

    enum class Shutdown : std::uint8_t {
        Linger,        // output is shut (FIN / close_notify sent): drain until the peer's end
        Close,         // nothing to linger for (or no clean way out): close now
        WaitWritable,  // the socket is full: ask again once writable
    };
    /// Shuts down output. `writeCutShort`: a write was still waiting for the socket (TLS:
    /// a record half sent, after which no close_notify can follow).
    virtual Shutdown shutdownOutput(bool writeCutShort) = 0;
    /// True when the transport holds received bytes no readiness edge will announce (TLS:
    /// decrypted or read ahead inside OpenSSL during the HTTP phase).
    virtual bool holdsUnread() const noexcept { return false; }

    int fd() const noexcept { return fd_; }

private:
    // WsConnection's stream interface.
    void doRead() override;
    std::size_t doTryWrite(std::span<const boost::asio::const_buffer> buffers) override;
    void doWrite(std::vector<boost::asio::const_buffer>& buffers) override;
    void doCloseSocket() override;
    void onStreamDeadline() override { closeSocket(); }

    // Poller::Target (the Poller's thread): hands the work to the strand.
    void onPollEvents(std::uint32_t events) override;
    std::shared_ptr<void> onPollerShutdown() override;

    void onEvents(std::uint32_t events);
    int registerFd();
    void readLoop();
    void continueWrite();
    void finishWrite(const boost::system::error_code& ec);
    void abortWrite();
    void shutDownOutput(bool writeCutShort);
    void closeSocket();
    // (The host given to the constructor is a PolledHost.)
    Poller& poller() const noexcept { return static_cast<PolledHost&>(host()).poller; }

    int fd_ = -1;
    IoWant readWants_ = IoWant::Read;   // what the read (or the drain) waits for
    IoWant writeWants_ = IoWant::Write; // what a waiting write waits for
    bool registered_ = false;      // in the Poller
    bool reading_ = false;         // doRead() was called: read on readiness
    bool waitingWrite_ = false;    // pending_ waits for the socket
    bool closing_ = false;         // doCloseSocket() ran: nothing more is written
    bool shutdownWaiting_ = false; // shutdownOutput asked to wait for writability
    bool draining_ = false;        // lingering close: read and drop until the peer's end
    std::vector<boost::asio::const_buffer>* pending_ = nullptr;  // what is left of the batch, until onWriteDone
    std::shared_ptr<WsConnection> self_;  // while registered
};

}  // namespace wharf::detail
