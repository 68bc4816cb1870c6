// TLS: the SSL context built from SslConfig, and the HTTP session and WebSocket stream
// over boost::beast::ssl_stream<boost::beast::tcp_stream>. The only translation unit
// that instantiates them.
//
//   accept ─▶ TlsHttpSession::run ─ handshake (handshakeTimeout) ─▶ HttpSession<TlsHttpSession>
//                  │ fails: plain HTTP, silence, garbage                 │ 101
//                  ▼                                                     ▼
//              close quietly (debug log)             TlsWsConnection (ssl_stream moved in)

#include "detail/HttpSession.hpp"
#include "detail/TlsConnection.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace wharf::detail {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct TlsContext {
    ssl::context ctx{ssl::context::tls_server};
    std::chrono::milliseconds handshakeTimeout{};
};

namespace {

// How long we wait for the peer's close_notify before closing TCP anyway.
constexpr auto tlsShutdownTimeout = std::chrono::seconds(2);
// Decrypted bytes per read: one TLS record holds at most 16 KiB of plaintext.
constexpr std::size_t tlsReadBufferSize = 16 * 1024;

// ---------------------------------------------------------------------------------------
// Context

/// The oldest OpenSSL error on this thread's queue, as text; clears the queue.
std::string openSslError()
{
    const unsigned long code = ERR_peek_error();
    ERR_clear_error();
    if (!code) return {};
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

int protocolVersion(const std::string& name)
{
    if (name == "TLSv1.2") return TLS1_2_VERSION;
    if (name == "TLSv1.3") return TLS1_3_VERSION;
    throw std::runtime_error(
        fmt::format("TLS minimumVersion \"{}\" is not supported: use \"TLSv1.2\" or \"TLSv1.3\"", name));
}

void requireFile(const std::filesystem::path& file, std::string_view what)
{
    if (file.empty()) throw std::runtime_error(fmt::format("TLS connector: no {} set in SslConfig", what));
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (!std::filesystem::exists(status))
        throw std::runtime_error(fmt::format("TLS {} {} does not exist", what, file.string()));
    if (!std::filesystem::is_regular_file(status))
        throw std::runtime_error(fmt::format("TLS {} {} is not a regular file", what, file.string()));
}

bool looksEncrypted(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("ENCRYPTED") != std::string::npos;
}

// PEM password callback: the password from SslConfig, never a terminal prompt.
int passwordCallback(char* buf, int size, int, void* userdata)
{
    const auto& password = *static_cast<const std::string*>(userdata);
    if (password.empty() || static_cast<int>(password.size()) > size) return -1;
    std::memcpy(buf, password.data(), password.size());
    return static_cast<int>(password.size());
}

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<EVP_PKEY, PkeyFree> loadPrivateKey(const SslConfig& config)
{
    const auto& file = config.privateKeyFile;
    requireFile(file, "private key");
    BIO* bio = BIO_new_file(file.c_str(), "r");
    if (!bio) throw std::runtime_error(fmt::format("TLS private key {} cannot be read", file.string()));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(
        bio, nullptr, passwordCallback, const_cast<std::string*>(&config.privateKeyPassword)));
    BIO_free(bio);
    if (key) {
        ERR_clear_error();
        return key;
    }
    const auto detail = openSslError();
    if (looksEncrypted(file)) {
        if (config.privateKeyPassword.empty())
            throw std::runtime_error(fmt::format(
                "TLS private key {} is encrypted: set SslConfig::privateKeyPassword", file.string()));
        throw std::runtime_error(fmt::format("TLS private key {} cannot be decrypted: wrong password?", file.string()));
    }
    throw std::runtime_error(fmt::format("TLS private key {} is not a PEM private key ({})", file.string(), detail));
}

// ALPN (RFC 7301): we speak http/1.1 only. A client offering only other protocols (h2)
// still gets a handshake, without ALPN, rather than a no_application_protocol alert.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLength, const unsigned char* in,
               unsigned int inLength, void*)
{
    static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outLength, ours, sizeof ours, in, inLength) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

/// The ssl_stream reports a TCP close without close_notify as stream_truncated; for the
/// WebSocket and HTTP layers that is just the peer going away.
boost::system::error_code normalise(const boost::system::error_code& ec)
{
    if (ec == ssl::error::stream_truncated) return net::error::eof;
    return ec;
}

// ---------------------------------------------------------------------------------------
// WebSocket over TLS

class TlsWsConnection final : public WsConnection {
public:
    TlsWsConnection(TlsStream stream, std::shared_ptr<TlsContext> context, Strand strand,
                    std::shared_ptr<ServerState> server, UpgradeAction& action)
        : WsConnection(std::move(strand), std::move(server), action),
          context_(std::move(context)),
          stream_(std::move(stream)),
          readBuffer_(new char[tlsReadBufferSize]),
          timer_(strand_)
    {
        boost::system::error_code ec;
        beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true), ec);
    }

private:
    void doRead() override
    {
        if (closing_ || readPending_) return;
        readPending_ = true;
        stream_.async_read_some(net::buffer(readBuffer_.get(), tlsReadBufferSize),
                                [self = shared_from_this(), this](const boost::system::error_code& ec, std::size_t n) {
                                    onReadDone(ec, n);
                                });
    }

    void onReadDone(const boost::system::error_code& ec, std::size_t n)
    {
        readPending_ = false;
        if (closing_ || readStopped_) return;
        if (ec) return onReadError(normalise(ec));
        if (onBytes(readBuffer_.get(), n)) doRead();
    }

    bool writesAsynchronously() const noexcept override { return true; }

    void doWrite(std::vector<net::const_buffer>& buffers) override
    {
        writePending_ = true;
        // beast::ssl_stream coalesces the small buffers into few TLS records (flat_stream).
        net::async_write(stream_, buffers,
                         [self = shared_from_this(), this](const boost::system::error_code& ec, std::size_t) {
                             writePending_ = false;
                             onWriteDone(normalise(ec));
                         });
    }

    // close_notify, then TCP close; bounded by timer_. With a read or write still in flight
    // (peer unresponsive, forced close) TLS has no clean way out: TCP closes at once.
    void doCloseSocket() override
    {
        if (closing_) return;
        closing_ = true;
        if (!beast::get_lowest_layer(stream_).socket().is_open()) return;
        if (readPending_ || writePending_) return closeSocket();
        timer_.expires_after(tlsShutdownTimeout);
        timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& e) {
            if (!e) closeSocket();
        });
        stream_.async_shutdown([self = shared_from_this(), this](const boost::system::error_code&) { closeSocket(); });
    }

    void closeSocket()
    {
        timer_.cancel();
        beast::get_lowest_layer(stream_).close();
    }

    std::shared_ptr<TlsContext> context_;  // outlives stream_
    TlsStream stream_;
    std::unique_ptr<char[]> readBuffer_;
    boost::asio::steady_timer timer_;  // bounds the TLS shutdown
    bool readPending_ = false;
    bool writePending_ = false;
    bool closing_ = false;
};

// ---------------------------------------------------------------------------------------
// HTTP over TLS

class TlsHttpSession final : public HttpSession<TlsHttpSession>, public std::enable_shared_from_this<TlsHttpSession> {
public:
    TlsHttpSession(tcp::socket socket, std::shared_ptr<TlsContext> context, Strand strand,
                   std::shared_ptr<ServerState> server, std::string remote)
        : HttpSession(std::move(strand), std::move(server), std::move(remote)),
          context_(std::move(context)),
          stream_(std::move(socket), context_->ctx)
    {
    }

    void run()
    {
        beast::get_lowest_layer(stream_).expires_after(context_->handshakeTimeout);
        stream_.async_handshake(ssl::stream_base::server,
                                [self = shared_from_this()](const boost::system::error_code& ec) {
                                    self->onHandshakeDone(ec);
                                });
    }

    TlsStream& stream() { return stream_; }
    bool secure() const { return true; }

    void shutdown()
    {
        unregister();
        if (upgraded_ || shuttingDown_) return;
        shuttingDown_ = true;
        auto& tcp = beast::get_lowest_layer(stream_);
        if (!tcp.socket().is_open()) return;
        // A keep-alive read may be waiting (graceful stop): cancel it, then say close_notify.
        boost::system::error_code ec;
        tcp.socket().cancel(ec);
        tcp.expires_after(tlsShutdownTimeout);
        stream_.async_shutdown([self = shared_from_this()](const boost::system::error_code&) {
            beast::get_lowest_layer(self->stream_).close();
        });
    }

    void closeNow()
    {
        unregister();
        if (upgraded_) return;
        beast::get_lowest_layer(stream_).close();
    }

    void startWebSocket(std::shared_ptr<UpgradeAction> action, std::string_view early)
    {
        // HttpSession set upgraded_: stream_ is moved out, nothing here may touch it again.
        auto ws = std::make_shared<TlsWsConnection>(std::move(stream_), context_, strand_, server_, *action);
        ws->start(early);
    }

private:
    void onHandshakeDone(const boost::system::error_code& ec)
    {
        if (ec) {
            // Plain HTTP on the TLS port, a silent client, a scanner: not our problem to report.
            if (ec != net::error::operation_aborted)
                log::debug("tls {}: handshake failed: {}", remote_, ec == beast::error::timeout ? "timed out"
                                                                                                 : ec.message());
            beast::get_lowest_layer(stream_).close();
            return;
        }
        if (server_->stopping.load()) return closeNow();
        startHttp();
    }

    std::shared_ptr<TlsContext> context_;  // outlives stream_
    TlsStream stream_;
    bool shuttingDown_ = false;
};

}  // namespace

std::shared_ptr<TlsContext> makeTlsContext(const SslConfig& config)
{
    auto tls = std::make_shared<TlsContext>();
    tls->handshakeTimeout = config.handshakeTimeout;
    SSL_CTX* ctx = tls->ctx.native_handle();
    ERR_clear_error();

    if (!SSL_CTX_set_min_proto_version(ctx, protocolVersion(config.minimumVersion)))
        throw std::runtime_error(fmt::format("TLS minimumVersion {}: {}", config.minimumVersion, openSslError()));
    tls->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                         ssl::context::single_dh_use);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_ECDH_USE | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!config.cipherList.empty() && !SSL_CTX_set_cipher_list(ctx, config.cipherList.c_str()))
        throw std::runtime_error(
            fmt::format("TLS cipherList \"{}\" selects no usable cipher ({})", config.cipherList, openSslError()));
    if (!config.cipherSuites.empty() && !SSL_CTX_set_ciphersuites(ctx, config.cipherSuites.c_str()))
        throw std::runtime_error(fmt::format("TLS cipherSuites \"{}\" is not a valid TLS 1.3 suite list ({})",
                                             config.cipherSuites, openSslError()));

    // Certificate chain, leaf first.
    const auto& chain = config.certificateChainFile;
    requireFile(chain, "certificate chain file");
    boost::system::error_code ec;
    tls->ctx.use_certificate_chain_file(chain.string(), ec);
    if (ec)
        throw std::runtime_error(fmt::format("TLS certificate chain file {} is not a PEM certificate chain ({})",
                                             chain.string(), ec.message()));
    ERR_clear_error();

    // Private key: loaded by hand for clear messages (encrypted? wrong password? mismatch?).
    const auto key = loadPrivateKey(config);
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (!leaf || !X509_check_private_key(leaf, key.get())) {
        ERR_clear_error();
        throw std::runtime_error(fmt::format("TLS private key {} does not match the certificate in {}",
                                             config.privateKeyFile.string(), chain.string()));
    }
    if (!SSL_CTX_use_PrivateKey(ctx, key.get()) || !SSL_CTX_check_private_key(ctx))
        throw std::runtime_error(fmt::format("TLS private key {} does not match the certificate in {} ({})",
                                             config.privateKeyFile.string(), chain.string(), openSslError()));

    SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    return tls;
}

void startTlsConnection(tcp::socket socket, std::shared_ptr<ServerState> server, std::shared_ptr<TlsContext> context)
{
    boost::system::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (ec) return;
    auto strand = *socket.get_executor().target<Strand>();
    auto session = std::make_shared<TlsHttpSession>(std::move(socket), std::move(context), std::move(strand),
                                                    std::move(server), fmt::format("{}", endpoint));
    session->run();
}

}  // namespace wharf::detail
