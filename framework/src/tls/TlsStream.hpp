#pragma once
// TLS straight on OpenSSL over a non-blocking TCP socket, in two parts:
// - TlsEngine: the SSL object, which reads and writes the descriptor itself (through a
//   small BIO), and non-blocking calls (handshake, read, write, shutdown) that return at
//   once and say which readiness to wait for. It owns no descriptor and no buffer: with
//   SSL_MODE_RELEASE_BUFFERS (set on every context, TlsConnection.cpp) OpenSSL frees its
//   record buffers whenever they are empty, so an idle connection keeps only OpenSSL's
//   per-connection state (with read-ahead, one recv takes what the socket holds). The
//   WebSocket phase keeps only the engine and the descriptor, on the Poller
//   (detail/Transport.hpp).
// - TlsStream: the engine on an asio socket, with Beast's AsyncReadStream /
//   AsyncWriteStream (async_read_some, async_write_some) plus async_handshake and
//   async_shutdown, for the handshake and the HTTP phase, with the timeout interface of
//   beast::tcp_stream on the lowest layer (HttpSession uses it).
// Beast's ssl_stream (asio::ssl::stream) instead keeps two 17 KiB buffers and a
// 2 x 17 KiB memory BIO pair for as long as the connection lives.
//
// Everything runs on the connection's strand; nothing here is thread-safe.

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "detail/IoResult.hpp"

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>

namespace wharf::detail {

/// The TCP socket under a TlsStream, with beast::tcp_stream's timeout interface: once an
/// expiry passes, the operations waiting on the socket and those started later fail with
/// beast::error::timeout (the socket stays open; the owner decides how to close).
class TlsSocket {
public:
    explicit TlsSocket(boost::asio::ip::tcp::socket socket);

    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
    const boost::asio::ip::tcp::socket& socket() const noexcept { return socket_; }
    /// The expiry's wait keeps `owner` (the connection) alive; set it before the first expiry.
    void setOwner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }
    void expires_after(std::chrono::steady_clock::duration after);
    void expires_never();
    bool expired() const noexcept { return expired_; }
    /// Closes the socket (pending waits end with operation_aborted).
    void close();

private:
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer timer_;
    std::weak_ptr<void> owner_;
    std::uint32_t generation_ = 0;  // of the current expiry
    bool expired_ = false;
};

/// OpenSSL on a non-blocking descriptor, server side unless connectTo() makes it the
/// client. Never closes the descriptor.
class TlsEngine {
public:
    /// Plaintext bytes in one TLS record (RFC 8446 5.1): what one write() sends at most.
    static constexpr std::size_t maxRecord = 16 * 1024;

    /// Throws std::runtime_error when OpenSSL cannot allocate the connection.
    TlsEngine(int fd, SSL_CTX* context);

    /// Makes this the client side, before the handshake: SNI names `host` (not for an IP
    /// address, RFC 6066 3), and with `checkName` the server's certificate must be for
    /// `host` (its DNS names, or its IP addresses for an address). The context decides
    /// whether the certificate is verified at all. False when OpenSSL refuses the name.
    bool connectTo(const std::string& host, bool checkName);
    /// After a client handshake: the certificate check's outcome (X509_V_OK or an
    /// X509_V_ERR_ value).
    long verifyResult() const noexcept { return SSL_get_verify_result(ssl_.get()); }

    IoResult handshake();
    /// Decrypted bytes into `data` (at most one record per call). Call until it asks to
    /// wait: only then is nothing left inside OpenSSL to hand out (neither decrypted bytes,
    /// SSL_pending, nor records it read ahead from the socket).
    IoResult read(void* data, std::size_t size);
    /// Sends at most one record from byte `skip` of `buffers` (a const buffer sequence).
    /// After a wait the next call must start at the same byte, with the same bytes there
    /// (OpenSSL finishes the record it has already encrypted); the buffers may move.
    template <class Buffers>
    IoResult write(const Buffers& buffers, std::size_t skip = 0);
    /// Sends close_notify, then waits for the peer's; bytes = 1 once both are done.
    IoResult shutdown();
    /// Sends close_notify only: bytes = 0 once it is out and the peer's is still to come,
    /// 1 when the peer's came already; an error also when none may be sent (after a fatal
    /// error or before the handshake finished, SSL_shutdown(3)).
    IoResult sendCloseNotify();
    /// OpenSSL holds received bytes (decrypted or read ahead) no readiness will announce.
    bool holdsUnread() const noexcept { return SSL_has_pending(ssl_.get()) == 1; }

private:
    IoResult writeBytes(const void* data, std::size_t size);
    /// The result of an OpenSSL call that returned `ret`; clears the thread's error queue.
    IoResult outcome(int ret, std::size_t bytes);
    static char* threadChunk();

    struct SslFree {
        void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
    };
    std::unique_ptr<SSL, SslFree> ssl_;
    bool failed_ = false;  // a fatal error: no close_notify may follow (SSL_shutdown(3))
};

/// A TlsEngine on an asio socket, for the handshake and the HTTP phase.
class TlsStream {
public:
    using executor_type = boost::asio::any_io_executor;

    /// A server-side stream over `socket` (made non-blocking). Throws std::runtime_error
    /// when OpenSSL cannot allocate the connection.
    TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* context);
    TlsStream(TlsStream&&) noexcept = default;
    TlsStream& operator=(TlsStream&&) = delete;

    executor_type get_executor() noexcept { return lowest_.socket().get_executor(); }
    /// For beast::get_lowest_layer.
    TlsSocket& next_layer() noexcept { return lowest_; }
    bool isOpen() const noexcept { return lowest_.socket().is_open(); }
    TlsEngine& engine() noexcept { return engine_; }
    /// The descriptor leaves asio (for the Poller); -1 when that fails. The stream is
    /// then closed; its engine may be moved out.
    int releaseSocket();

    // --- non-blocking: the engine's calls, while the socket is open ----------------------
    IoResult handshake() { return isOpen() ? engine_.handshake() : closed(); }
    IoResult read(void* data, std::size_t size) { return isOpen() ? engine_.read(data, size) : closed(); }
    template <class Buffers>
    IoResult write(const Buffers& buffers, std::size_t skip = 0)
    {
        return isOpen() ? engine_.write(buffers, skip) : closed();
    }
    IoResult shutdown() { return isOpen() ? engine_.shutdown() : IoResult{1, IoWant::Nothing, {}}; }

    // --- asynchronous (Beast streams); completions run on the socket's executor ---------
    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token);
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token);
    template <class Token>
    auto async_handshake(Token&& token);
    template <class Token>
    auto async_shutdown(Token&& token);

private:
    template <class Step, bool WithBytes>
    struct Op;
    template <class Step, class Token, class Signature>
    auto start(Step step, Token& token);
    static IoResult closed() { return {0, IoWant::Nothing, boost::asio::error::bad_descriptor}; }

    TlsSocket lowest_;
    TlsEngine engine_;
};

// ---------------------------------------------------------------------------------------

template <class Buffers>
IoResult TlsEngine::write(const Buffers& buffers, std::size_t skip)
{
    // One record's worth, contiguous: straight from the caller's buffer when it holds a
    // whole record (or is the last one), else gathered into the thread's chunk. Either way
    // the length is min(what is left, maxRecord), so a retry is never shorter than the
    // record OpenSSL is finishing.
    auto it = boost::asio::buffer_sequence_begin(buffers);
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (; it != end; ++it) {
        const std::size_t size = boost::asio::const_buffer(*it).size();
        if (skip < size) break;
        skip -= size;
    }
    if (it == end) return {};
    const auto first = boost::asio::const_buffer(*it) + skip;
    const auto next = std::next(it);
    if (first.size() >= maxRecord || next == end) return writeBytes(first.data(), std::min(first.size(), maxRecord));
    char* chunk = threadChunk();
    std::size_t n = first.size();
    std::memcpy(chunk, first.data(), n);
    for (it = next; it != end && n < maxRecord; ++it) {
        const boost::asio::const_buffer part(*it);
        const std::size_t take = std::min(part.size(), maxRecord - n);
        std::memcpy(chunk + n, part.data(), take);
        n += take;
    }
    return writeBytes(chunk, n);
}

/// One asynchronous operation: calls `step` until it completes, waiting on the socket for
/// what OpenSSL asks. A result that is there at once is posted, never delivered inside
/// the initiating call.
template <class Step, bool WithBytes>
struct TlsStream::Op {
    TlsStream& stream;
    Step step;
    IoResult result{};
    bool waited = false;
    bool done = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {})
    {
        if (done) return complete(self, result.ec, result.bytes);
        auto& lowest = stream.lowest_;
        if (ec == boost::asio::error::operation_aborted && lowest.expired()) ec = boost::beast::error::timeout;
        if (ec) return complete(self, ec, 0);
        if (lowest.expired()) result = {0, IoWant::Nothing, boost::beast::error::timeout};
        else result = step(stream);
        if (result.want != IoWant::Nothing) {
            waited = true;
            return lowest.socket().async_wait(result.want == IoWant::Read ? boost::asio::socket_base::wait_read
                                                                           : boost::asio::socket_base::wait_write,
                                              std::move(self));
        }
        if (waited) return complete(self, result.ec, result.bytes);
        done = true;
        boost::asio::post(stream.get_executor(), std::move(self));
    }

    template <class Self>
    static void complete(Self& self, const boost::system::error_code& ec, std::size_t bytes)
    {
        if constexpr (WithBytes) self.complete(ec, bytes);
        else self.complete(ec);
    }
};

template <class Step, class Token, class Signature>
auto TlsStream::start(Step step, Token& token)
{
    constexpr bool withBytes = !std::is_same_v<Signature, void(boost::system::error_code)>;
    return boost::asio::async_compose<Token, Signature>(Op<Step, withBytes>{*this, std::move(step)},
                                                        token, lowest_.socket());
}

template <class Buffers, class Token>
auto TlsStream::async_read_some(const Buffers& buffers, Token&& token)
{
    boost::asio::mutable_buffer into;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it)
        if (boost::asio::mutable_buffer(*it).size() > 0) {
            into = *it;
            break;
        }
    auto step = [into](TlsStream& s) { return into.size() ? s.read(into.data(), into.size()) : IoResult{}; };
    return start<decltype(step), Token, void(boost::system::error_code, std::size_t)>(std::move(step), token);
}

template <class Buffers, class Token>
auto TlsStream::async_write_some(const Buffers& buffers, Token&& token)
{
    // `buffers` is the caller's: valid until the completion, so a retry sees the same bytes.
    auto step = [buffers](TlsStream& s) { return s.write(buffers); };
    return start<decltype(step), Token, void(boost::system::error_code, std::size_t)>(std::move(step), token);
}

template <class Token>
auto TlsStream::async_handshake(Token&& token)
{
    auto step = [](TlsStream& s) { return s.handshake(); };
    return start<decltype(step), Token, void(boost::system::error_code)>(std::move(step), token);
}

template <class Token>
auto TlsStream::async_shutdown(Token&& token)
{
    auto step = [](TlsStream& s) { return s.shutdown(); };
    return start<decltype(step), Token, void(boost::system::error_code)>(std::move(step), token);
}

}  // namespace wharf::detail
