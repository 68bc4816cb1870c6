// TlsStream's non-template parts: the socket BIO, the timeout of the lowest layer, and
// the OpenSSL calls with their results mapped to error codes.

#include "tls/TlsStream.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

namespace wharf::detail {
namespace net = boost::asio;

namespace {

// ---------------------------------------------------------------------------------------
// A BIO over the socket's descriptor. OpenSSL's own socket BIO writes with write(2),
// which raises SIGPIPE on a connection the peer has reset; send(MSG_NOSIGNAL) does not.
// The descriptor is the TlsStream's socket's: the BIO never closes it.

int descriptor(BIO* bio) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio))); }

int bioWrite(BIO* bio, const char* data, std::size_t size, std::size_t* written)
{
    BIO_clear_retry_flags(bio);
    for (;;) {
        const ssize_t n = ::send(descriptor(bio), data, size, MSG_NOSIGNAL);
        if (n >= 0) {
            *written = static_cast<std::size_t>(n);
            return 1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
        return 0;
    }
}

int bioRead(BIO* bio, char* data, std::size_t size, std::size_t* read)
{
    BIO_clear_retry_flags(bio);
    for (;;) {
        const ssize_t n = ::recv(descriptor(bio), data, size, 0);
        if (n > 0) {
            *read = static_cast<std::size_t>(n);
            return 1;
        }
        if (n == 0) {
            BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // for BIO_eof: OpenSSL tells EOF from errors by it
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
        return 0;
    }
}

long bioCtrl(BIO* bio, int command, long, void*)
{
    switch (command) {
    case BIO_CTRL_FLUSH: return 1;  // nothing is buffered here
    case BIO_CTRL_EOF: return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) ? 1 : 0;
    default: return 0;
    }
}

int bioCreate(BIO* bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

BIO_METHOD* socketBioMethod()
{
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "wharf socket");
        if (!m || !BIO_meth_set_write_ex(m, bioWrite) || !BIO_meth_set_read_ex(m, bioRead) ||
            !BIO_meth_set_ctrl(m, bioCtrl) || !BIO_meth_set_create(m, bioCreate))
            throw std::runtime_error("TLS: OpenSSL cannot make a BIO method");
        return m;
    }();
    return method;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// TlsSocket

TlsSocket::TlsSocket(net::ip::tcp::socket socket) : socket_(std::move(socket)), timer_(socket_.get_executor()) {}

void TlsSocket::expires_after(std::chrono::steady_clock::duration after)
{
    expired_ = false;
    timer_.expires_after(after);
    // The owner is kept alive until the wait ends, so `this` is intact when it fires. An
    // expiry that fired just before it was replaced (its handler already queued) must not
    // cut the next phase short: hence the generation.
    timer_.async_wait([this, owner = owner_.lock(), generation = ++generation_](const boost::system::error_code& ec) {
        if (ec || !owner || generation != generation_) return;
        expired_ = true;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
    });
}

void TlsSocket::expires_never()
{
    expired_ = false;
    ++generation_;
    timer_.cancel();
}

void TlsSocket::close()
{
    ++generation_;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
}

// ---------------------------------------------------------------------------------------
// TlsEngine

TlsEngine::TlsEngine(int fd, SSL_CTX* context) : ssl_(SSL_new(context))
{
    BIO* bio = ssl_ ? BIO_new(socketBioMethod()) : nullptr;
    if (!bio) {
        ERR_clear_error();
        throw std::runtime_error("TLS: OpenSSL cannot allocate a connection");
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
    SSL_set_bio(ssl_.get(), bio, bio);  // one reference, owned by the SSL object
    SSL_set_accept_state(ssl_.get());
}

bool TlsEngine::connectTo(const std::string& host, bool checkName)
{
    SSL* ssl = ssl_.get();
    SSL_set_connect_state(ssl);
    boost::system::error_code notAddress;
    net::ip::make_address(host, notAddress);
    bool ok = true;
    if (notAddress && !host.empty()) ok = SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
    if (ok && checkName) {
        ok = notAddress ? SSL_set1_host(ssl, host.c_str()) == 1
                        : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
    }
    ERR_clear_error();
    return ok;
}

char* TlsEngine::threadChunk()
{
    thread_local char chunk[maxRecord];
    return chunk;
}

IoResult TlsEngine::outcome(int ret, std::size_t bytes)
{
    if (ret > 0) {
        ERR_clear_error();
        return {bytes, IoWant::Nothing, {}};
    }
    const int savedErrno = errno;
    const int error = SSL_get_error(ssl_.get(), ret);
    if (error == SSL_ERROR_WANT_READ) return {0, IoWant::Read, {}};
    if (error == SSL_ERROR_WANT_WRITE) return {0, IoWant::Write, {}};
    IoResult r;
    if (error == SSL_ERROR_ZERO_RETURN) {
        r.ec = net::error::eof;  // the peer's close_notify
    } else {
        failed_ = true;
        const unsigned long code = ERR_get_error();
        if (code && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            r.ec = net::error::eof;  // TCP closed without close_notify: for HTTP and WebSocket, just gone
        else if (code)
            r.ec = boost::system::error_code(static_cast<int>(code), net::error::get_ssl_category());
        else if (error == SSL_ERROR_SYSCALL && savedErrno != 0)
            r.ec = boost::system::error_code(savedErrno, boost::system::system_category());
        else
            r.ec = net::error::eof;
    }
    ERR_clear_error();
    return r;
}

namespace {
/// OpenSSL keeps its errors per thread, and a connection served before on this thread may
/// have left some: SSL_get_error must only see this call's.
void freshErrors()
{
    ERR_clear_error();
    errno = 0;
}
}  // namespace

IoResult TlsEngine::handshake()
{
    freshErrors();
    return outcome(SSL_do_handshake(ssl_.get()), 0);
}

IoResult TlsEngine::read(void* data, std::size_t size)
{
    freshErrors();
    std::size_t n = 0;
    const int ret = SSL_read_ex(ssl_.get(), data, size, &n);
    return outcome(ret, n);
}

IoResult TlsEngine::writeBytes(const void* data, std::size_t size)
{
    freshErrors();
    std::size_t n = 0;
    const int ret = SSL_write_ex(ssl_.get(), data, size, &n);
    return outcome(ret, n);
}

IoResult TlsEngine::shutdown()
{
    auto r = sendCloseNotify();
    if (r.want != IoWant::Nothing) return r;
    if (r.ec) return {1, IoWant::Nothing, {}};  // none may be sent: nothing more to wait for
    if (r.bytes == 1) return r;
    freshErrors();
    const int ret = SSL_shutdown(ssl_.get());  // ours is out: now wait for the peer's
    if (ret == 1) return {1, IoWant::Nothing, {}};
    r = outcome(ret, 0);
    if (r.want == IoWant::Nothing) r.bytes = 1;  // an error: nothing more to wait for
    return r;
}

IoResult TlsEngine::sendCloseNotify()
{
    // Not after a fatal error, nor before the handshake finished (SSL_shutdown(3)).
    if (failed_ || !SSL_is_init_finished(ssl_.get())) return {0, IoWant::Nothing, net::error::shut_down};
    if ((SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) && !SSL_want_write(ssl_.get()))
        return {(SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) ? 1u : 0u, IoWant::Nothing, {}};
    freshErrors();
    const int ret = SSL_shutdown(ssl_.get());
    if (ret == 1) return {1, IoWant::Nothing, {}};
    if (ret == 0) return {0, IoWant::Nothing, {}};
    return outcome(ret, 0);
}

// ---------------------------------------------------------------------------------------
// TlsStream

namespace {
int nonBlockingDescriptor(net::ip::tcp::socket& socket)
{
    // OpenSSL reads and writes the descriptor directly: it must never block.
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (ec) throw std::runtime_error("TLS: cannot make the socket non-blocking: " + ec.message());
    return socket.native_handle();
}
}  // namespace

TlsStream::TlsStream(net::ip::tcp::socket socket, SSL_CTX* context)
    : lowest_(std::move(socket)), engine_(nonBlockingDescriptor(lowest_.socket()), context)
{
}

int TlsStream::releaseSocket()
{
    lowest_.expires_never();
    boost::system::error_code ec;
    const int fd = lowest_.socket().release(ec);
    return ec ? -1 : fd;
}

}  // namespace wharf::detail
