// TLS: the SSL context built from SslConfig, the bound on handshakes in progress, and the
// HTTP session and WebSocket stream over TlsStream (OpenSSL on the non-blocking socket,
// tls/TlsStream.hpp). The only translation unit that instantiates them.
//
//   accept ─▶ over maxHandshakesPerAddress from that address: closed at once
//     │        (maxHandshakes in progress: the acceptor waits for one to finish)
//     ▼
//   TlsHttpSession::run ─ handshake (handshakeTimeout) ─▶ HttpSession<TlsHttpSession>
//                  │ fails: plain HTTP, silence, garbage                 │ 101
//                  ▼                                                     ▼
//              close quietly (debug log)     TlsWsConnection (descriptor and TlsEngine
//                                                        moved out, onto the Poller)

#include "detail/HttpSession.hpp"
#include "detail/TlsConnection.hpp"
#include "detail/Transport.hpp"
#include "detail/WsConnection.hpp"
#include "tls/TlsStream.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unordered_map>

namespace wharf::detail {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

/// Handshakes in progress on one TLS connector, in all and per remote address: each holds
/// OpenSSL's handshake state (tens of KiB) until it finishes or times out, and a replayed
/// ClientHello costs the server a signature. Shared by the acceptor and the connections.
class HandshakeBudget {
public:
    void configure(std::size_t total, std::size_t perAddress)
    {
        total_ = total;
        perAddress_ = perAddress;
    }
    void setName(std::string name)
    {
        std::lock_guard lock(mutex_);
        name_ = std::move(name);
    }

    /// Counts a new handshake from `address`; false (nothing counted) when that address
    /// already has its bound in progress. Logs the first refusal of an episode (until the
    /// address has none in progress again).
    bool tryStart(const net::ip::address& address)
    {
        std::size_t refusedAt = 0;
        {
            std::lock_guard lock(mutex_);
            if (perAddress_) {
                auto& a = addresses_[address];
                if (a.inProgress >= perAddress_) {
                    if (a.refused++ == 0) refusedAt = a.inProgress;
                    else return false;
                } else {
                    ++a.inProgress;
                }
            }
            if (!refusedAt) {
                ++inProgress_;
                return true;
            }
        }
        log::warn("tls {}: {} handshakes in progress from {} (SslConfig::maxHandshakesPerAddress): closing its new "
                  "connections until one finishes",
                  name(), refusedAt, address.to_string());
        return false;
    }

    /// A handshake counted by tryStart has finished (done, failed or abandoned).
    void finish(const net::ip::address& address)
    {
        std::function<void()> resume;
        std::size_t refused = 0;
        std::optional<std::chrono::milliseconds> fullFor;
        std::size_t left = 0, pauses = 0;
        {
            std::lock_guard lock(mutex_);
            left = --inProgress_;
            if (perAddress_) {
                const auto it = addresses_.find(address);
                if (it != addresses_.end() && --it->second.inProgress == 0) {
                    refused = it->second.refused;
                    addresses_.erase(it);
                }
            }
            if (paused_ && inProgress_ < total_) {
                paused_ = false;
                resume = std::move(resume_);
                resume_ = nullptr;
            }
            // The episode ends once the count is well below the bound (not at the first
            // finish: under load the acceptor pauses and resumes with every handshake).
            if (full_ && inProgress_ <= total_ / 2) {
                full_ = false;
                fullFor = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - fullSince_);
                pauses = pauses_;
            }
        }
        if (resume) resume();
        if (refused)
            log::info("tls {}: {} connection(s) from {} were closed over SslConfig::maxHandshakesPerAddress", name(),
                      refused, address.to_string());
        if (fullFor)
            log::info("tls {}: handshakes in progress back to {}; accepting was paused {} time(s) in {} ms", name(),
                      left, pauses, fullFor->count());
    }

    /// True (and `resume` kept for finish() to call) when total_ handshakes are in progress.
    bool pauseIfFull(std::function<void()> resume)
    {
        bool episode = false;
        std::size_t count = 0;
        {
            std::lock_guard lock(mutex_);
            if (!total_ || stopped_ || inProgress_ < total_) return false;
            if (!full_) {
                full_ = episode = true;
                fullSince_ = Clock::now();
                pauses_ = 0;
            }
            ++pauses_;
            paused_ = true;
            resume_ = std::move(resume);
            count = inProgress_;
        }
        if (episode)
            log::warn("tls {}: {} handshakes in progress (SslConfig::maxHandshakes): not accepting until one finishes",
                      name(), count);
        return true;
    }

    void stop()
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        paused_ = false;
        resume_ = nullptr;
    }

private:
    using Clock = std::chrono::steady_clock;
    struct Address {
        std::size_t inProgress = 0;
        std::size_t refused = 0;  // connections closed over the bound since the count left 0
    };
    std::string name()
    {
        std::lock_guard lock(mutex_);
        return name_;
    }

    std::mutex mutex_;
    std::size_t total_ = 0;       // 0: no bound
    std::size_t perAddress_ = 0;  // 0: no bound
    std::string name_;            // host:port, for the log
    std::size_t inProgress_ = 0;
    std::unordered_map<net::ip::address, Address> addresses_;
    std::function<void()> resume_;
    bool paused_ = false;  // the acceptor waits for resume_
    bool stopped_ = false;
    bool full_ = false;  // an episode: the count reached total_ and is not yet back to half
    Clock::time_point fullSince_;
    std::size_t pauses_ = 0;
};

struct TlsContext {
    ssl::context ctx{ssl::context::tls_server};
    std::chrono::milliseconds handshakeTimeout{};
    HandshakeBudget handshakes;
};

namespace {

// How long we wait for the peer's close_notify before closing TCP anyway (HTTP phase).
constexpr auto tlsShutdownTimeout = std::chrono::seconds(2);

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

// ---------------------------------------------------------------------------------------
// WebSocket over TLS

/// The TLS transport under PolledWsConnection (detail/Transport.hpp): OpenSSL's calls on
/// the descriptor, which left asio after the 101 like a plain connection's. An idle
/// connection holds its SSL object (no record buffers) and its Poller registration.
class TlsWsConnection final : public PolledWsConnection {
public:
    TlsWsConnection(int fd, TlsEngine engine, Strand strand, std::shared_ptr<PolledHost> host, UpgradeAction& action,
                    Role role)
        : PolledWsConnection(fd, std::move(strand), std::move(host), action, role), engine_(std::move(engine))
    {
    }

private:
    IoResult receive(char* data, std::size_t size) override { return engine_.read(data, size); }

    IoResult send(std::span<const net::const_buffer> buffers, std::size_t skip) override
    {
        return engine_.write(buffers, skip);
    }

    // close_notify, then the peer's (the drain reads until it comes: SSL_read's end of
    // data). A write cut short left a record half sent: no close_notify can follow it, so
    // TCP closes at once, as after a fatal error.
    Shutdown shutdownOutput(bool writeCutShort) override
    {
        if (writeCutShort) return Shutdown::Close;
        const auto r = engine_.sendCloseNotify();
        if (r.want == IoWant::Write) return Shutdown::WaitWritable;
        if (r.ec || r.want != IoWant::Nothing || r.bytes == 1) return Shutdown::Close;
        return Shutdown::Linger;
    }

    bool holdsUnread() const noexcept override { return engine_.holdsUnread(); }

    TlsEngine engine_;
};

// ---------------------------------------------------------------------------------------
// HTTP over TLS

class TlsHttpSession final : public HttpSession<TlsHttpSession>, public std::enable_shared_from_this<TlsHttpSession> {
public:
    TlsHttpSession(TlsStream stream, std::shared_ptr<TlsContext> context, Strand strand,
                   std::shared_ptr<ServerState> server, const tcp::endpoint& peer)
        : HttpSession(std::move(strand), std::move(server), fmt::format("{}", peer)),
          context_(std::move(context)),
          stream_(std::move(stream)),
          handshakeFrom_(peer.address())
    {
    }
    ~TlsHttpSession() override { endHandshake(); }

    void run()
    {
        stream_.next_layer().setOwner(weak_from_this());
        stream_.next_layer().expires_after(context_->handshakeTimeout);
        stream_.async_handshake([self = shared_from_this()](const boost::system::error_code& ec) {
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
        auto& tcp = stream_.next_layer();
        if (!tcp.socket().is_open()) return;
        // A keep-alive read may be waiting (graceful stop): cancel it, then say close_notify.
        boost::system::error_code ec;
        tcp.socket().cancel(ec);
        tcp.expires_after(tlsShutdownTimeout);
        stream_.async_shutdown([self = shared_from_this()](const boost::system::error_code&) {
            self->stream_.next_layer().close();
        });
    }

    void closeNow()
    {
        unregister();
        if (upgraded_) return;
        stream_.next_layer().close();
    }

    void startWebSocket(std::shared_ptr<ProtocolSwitch> handoff, std::string_view early)
    {
        // HttpSession set upgraded_: the socket and the engine leave, nothing here may touch
        // stream_ again.
        const int fd = stream_.releaseSocket();
        auto ws = std::make_shared<TlsWsConnection>(fd, std::move(stream_.engine()), strand_, server_,
                                                    UpgradeAction::of(*handoff), Role::Server);
        ws->start(early);
    }

private:
    void onHandshakeDone(const boost::system::error_code& ec)
    {
        endHandshake();
        server_->metrics.tlsHandshakeDone(accepted_, !ec);
        if (ec) {
            // Plain HTTP on the TLS port, a silent client, a scanner: not our problem to report.
            if (ec != net::error::operation_aborted)
                log::debug("tls {}: handshake failed: {}", remote_, ec == beast::error::timeout ? "timed out"
                                                                                                 : ec.message());
            stream_.next_layer().close();
            return;
        }
        if (server_->stopping.load()) return closeNow();
        startHttp();
    }

    /// Gives the handshake's place in the connector's budget back (once).
    void endHandshake()
    {
        if (!handshakeFrom_) return;
        context_->handshakes.finish(*handshakeFrom_);
        handshakeFrom_.reset();
    }

    std::shared_ptr<TlsContext> context_;  // outlives stream_
    TlsStream stream_;
    std::optional<net::ip::address> handshakeFrom_;  // while the handshake counts against the budget
    const std::chrono::steady_clock::time_point accepted_ = std::chrono::steady_clock::now();
    bool shuttingDown_ = false;
};

}  // namespace

std::shared_ptr<WsConnection> makeTlsWsConnection(TlsStream& stream, Strand strand, std::shared_ptr<PolledHost> host,
                                                  UpgradeAction& action, Role role)
{
    const int fd = stream.releaseSocket();
    return std::make_shared<TlsWsConnection>(fd, std::move(stream.engine()), std::move(strand), std::move(host),
                                             action, role);
}

std::shared_ptr<TlsContext> makeTlsContext(const SslConfig& config)
{
    auto tls = std::make_shared<TlsContext>();
    tls->handshakeTimeout = config.handshakeTimeout;
    tls->handshakes.configure(config.maxHandshakes, config.maxHandshakesPerAddress);
    SSL_CTX* ctx = tls->ctx.native_handle();
    ERR_clear_error();
    // Record buffers are freed whenever they are empty, so an idle connection keeps none.
    // TlsStream writes one record per SSL_write (partial writes) and retries a record that
    // waited for the socket from wherever its bytes are then (moving write buffer).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One recv takes whatever the socket holds, up to a record's buffer, instead of one for
    // each record's header and one for its body.
    SSL_CTX_set_read_ahead(ctx, 1);

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

void startTlsConnection(tcp::socket socket, const tcp::endpoint& peer, std::shared_ptr<ServerState> server,
                        std::shared_ptr<TlsContext> context)
{
    if (!context->handshakes.tryStart(peer.address())) {
        // Over the address's bound: closed before any TLS work (no SSL object, no signature).
        boost::system::error_code ignored;
        socket.close(ignored);
        return;
    }
    auto strand = *socket.get_executor().target<Strand>();
    std::shared_ptr<TlsHttpSession> session;
    try {
        TlsStream stream(std::move(socket), context->ctx.native_handle());
        session = std::make_shared<TlsHttpSession>(std::move(stream), context, std::move(strand), std::move(server),
                                                   peer);
    } catch (const std::exception& e) {
        context->handshakes.finish(peer.address());
        log::warn("tls {}: {}", peer, e.what());
        return;
    }
    session->run();
}

void setConnectorName(TlsContext& context, std::string name) { context.handshakes.setName(std::move(name)); }

bool pauseAccepting(TlsContext& context, std::function<void()> resume)
{
    return context.handshakes.pauseIfFull(std::move(resume));
}

void stopAccepting(TlsContext& context) { context.handshakes.stop(); }

}  // namespace wharf::detail
