// TLS: the SSL contexts built from SslConfig (one per certificate, picked by SNI, replaced
// as a whole by a reload), the bound on handshakes in progress, and the HTTP session and
// WebSocket stream over TlsStream (OpenSSL on the non-blocking socket, tls/TlsStream.hpp).
// The only translation unit that instantiates them.
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

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace wharf::detail {
namespace net = boost::asio;
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

namespace {
/// Host names compare without regard to ASCII case (RFC 4343).
std::string lowerCase(std::string_view name)
{
    std::string lower(name);
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lower;
}
}  // namespace

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

/// A connector's certificates: one SSL_CTX each, all with the connector's settings, and the
/// names that pick them. A handshake starts on the first (the default) and the servername
/// callback moves it to the one its SNI names. Immutable once built; a reload builds a new
/// set. A connection keeps the set it started with until it ends: the callback's argument
/// must outlive every handshake on these contexts.
class CertificateSet {
public:
    SSL_CTX* defaultContext() const noexcept { return contexts_.front().get(); }

    void add(SslCtxPtr context, const std::vector<std::string>& names)
    {
        SSL_CTX* ctx = context.get();
        contexts_.push_back(std::move(context));
        // The first certificate to claim a name keeps it.
        for (const auto& name : names) {
            if (name.starts_with("*.")) wildcards_.try_emplace(name.substr(2), ctx);
            else exact_.try_emplace(name, ctx);
        }
        SSL_CTX_set_tlsext_servername_callback(ctx, selectCertificate);
        SSL_CTX_set_tlsext_servername_arg(ctx, this);
    }

    /// The context for `serverName` (lower case, no trailing dot): an exact name, else a
    /// wildcard covering its first label (RFC 6125 6.4.3: "*" matches one label only).
    SSL_CTX* find(const std::string& serverName) const
    {
        if (const auto it = exact_.find(serverName); it != exact_.end()) return it->second;
        const auto dot = serverName.find('.');
        if (dot == std::string::npos || dot == 0) return nullptr;
        const auto it = wildcards_.find(serverName.substr(dot + 1));
        return it != wildcards_.end() ? it->second : nullptr;
    }

    std::size_t size() const noexcept { return contexts_.size(); }

private:
    // SNI (RFC 6066 3): runs on the handshake's thread, after the ClientHello was read.
    // No name, or one no certificate has: the default stays, and SNI is not acknowledged.
    static int selectCertificate(SSL* ssl, int*, void* arg)
    {
        const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        if (!name) return SSL_TLSEXT_ERR_NOACK;
        std::string key = lowerCase(name);
        if (key.ends_with('.')) key.pop_back();
        SSL_CTX* ctx = static_cast<const CertificateSet*>(arg)->find(key);
        if (!ctx) return SSL_TLSEXT_ERR_NOACK;
        if (ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
        return SSL_TLSEXT_ERR_OK;
    }

    std::vector<SslCtxPtr> contexts_;
    std::unordered_map<std::string, SSL_CTX*> exact_;
    std::unordered_map<std::string, SSL_CTX*> wildcards_;  // "*.example.com" under "example.com"
};

struct TlsContext {
    SslConfig config;  // the files a reload reads again
    HandshakeBudget handshakes;

    std::shared_ptr<const CertificateSet> certificates() const
    {
        std::lock_guard lock(mutex);
        return current;
    }
    void replace(std::shared_ptr<const CertificateSet> set)
    {
        std::lock_guard lock(mutex);
        current.swap(set);
        // The old set goes outside the lock (its last user may be a connection, later).
    }

private:
    mutable std::mutex mutex;  // guards `current`: handshakes read it, a reload replaces it
    std::shared_ptr<const CertificateSet> current;
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

std::unique_ptr<EVP_PKEY, PkeyFree> loadPrivateKey(const SslCertificate& certificate)
{
    const auto& file = certificate.privateKeyFile;
    requireFile(file, "private key");
    BIO* bio = BIO_new_file(file.c_str(), "r");
    if (!bio) throw std::runtime_error(fmt::format("TLS private key {} cannot be read", file.string()));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(
        bio, nullptr, passwordCallback, const_cast<std::string*>(&certificate.privateKeyPassword)));
    BIO_free(bio);
    if (key) {
        ERR_clear_error();
        return key;
    }
    const auto detail = openSslError();
    if (looksEncrypted(file)) {
        if (certificate.privateKeyPassword.empty())
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

/// The names a certificate serves without SslCertificate::names: its DNS subjectAltNames,
/// or its subject CN when it has none (RFC 6125 6.4.4), in lower case.
std::vector<std::string> namesOf(X509* leaf)
{
    std::vector<std::string> names;
    auto* alternatives = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; alternatives && i < sk_GENERAL_NAME_num(alternatives); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(alternatives, i);
        if (name->type != GEN_DNS) continue;
        const ASN1_STRING* dns = name->d.dNSName;
        names.push_back(lowerCase(
            std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)), ASN1_STRING_length(dns))));
    }
    GENERAL_NAMES_free(alternatives);
    if (!names.empty()) return names;
    char commonName[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, commonName, sizeof commonName) > 0)
        names.push_back(lowerCase(commonName));
    return names;
}

/// A name given in SslCertificate::names, checked and in lower case.
std::string configuredName(std::string_view name)
{
    const auto star = name.find('*');
    if (name.empty() || (star != std::string_view::npos && (star != 0 || !name.starts_with("*.") || name.size() < 3 ||
                                                            name.find('*', 1) != std::string_view::npos)))
        throw std::runtime_error(fmt::format(
            "TLS certificate name \"{}\" is not supported: use a host name or \"*.\" and a domain", name));
    return lowerCase(name);
}

/// A context with the connector's settings, without a certificate.
SslCtxPtr newContext(const SslConfig& config)
{
    SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
    if (!context) throw std::runtime_error(fmt::format("TLS: cannot create a context ({})", openSslError()));
    SSL_CTX* ctx = context.get();
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
    SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_SINGLE_DH_USE |
                                 SSL_OP_SINGLE_ECDH_USE | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!config.cipherList.empty() && !SSL_CTX_set_cipher_list(ctx, config.cipherList.c_str()))
        throw std::runtime_error(
            fmt::format("TLS cipherList \"{}\" selects no usable cipher ({})", config.cipherList, openSslError()));
    if (!config.cipherSuites.empty() && !SSL_CTX_set_ciphersuites(ctx, config.cipherSuites.c_str()))
        throw std::runtime_error(fmt::format("TLS cipherSuites \"{}\" is not a valid TLS 1.3 suite list ({})",
                                             config.cipherSuites, openSslError()));
    SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    return context;
}

/// Loads `certificate`'s chain and key into `ctx`; returns the names it serves.
std::vector<std::string> useCertificate(SSL_CTX* ctx, const SslCertificate& certificate)
{
    // Certificate chain, leaf first.
    const auto& chain = certificate.certificateChainFile;
    requireFile(chain, "certificate chain file");
    if (SSL_CTX_use_certificate_chain_file(ctx, chain.c_str()) != 1)
        throw std::runtime_error(fmt::format("TLS certificate chain file {} is not a PEM certificate chain ({})",
                                             chain.string(), openSslError()));
    ERR_clear_error();

    // Private key: loaded by hand for clear messages (encrypted? wrong password? mismatch?).
    const auto key = loadPrivateKey(certificate);
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (!leaf || !X509_check_private_key(leaf, key.get())) {
        ERR_clear_error();
        throw std::runtime_error(fmt::format("TLS private key {} does not match the certificate in {}",
                                             certificate.privateKeyFile.string(), chain.string()));
    }
    if (!SSL_CTX_use_PrivateKey(ctx, key.get()) || !SSL_CTX_check_private_key(ctx))
        throw std::runtime_error(fmt::format("TLS private key {} does not match the certificate in {} ({})",
                                             certificate.privateKeyFile.string(), chain.string(), openSslError()));

    if (certificate.names.empty()) return namesOf(leaf);
    std::vector<std::string> names;
    for (const auto& name : certificate.names) names.push_back(configuredName(name));
    return names;
}

/// Every certificate of `config`, read from its files now.
std::shared_ptr<const CertificateSet> loadCertificateSet(const SslConfig& config)
{
    std::vector<SslCertificate> certificates;
    if (!config.certificateChainFile.empty() || !config.privateKeyFile.empty() || config.certificates.empty())
        certificates.push_back({config.certificateChainFile, config.privateKeyFile, config.privateKeyPassword, {}});
    certificates.insert(certificates.end(), config.certificates.begin(), config.certificates.end());
    ERR_clear_error();
    auto set = std::make_shared<CertificateSet>();
    for (const auto& certificate : certificates) {
        auto context = newContext(config);
        auto names = useCertificate(context.get(), certificate);
        set->add(std::move(context), names);
    }
    return set;
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
    TlsHttpSession(TlsStream stream, std::shared_ptr<TlsContext> context,
                   std::shared_ptr<const CertificateSet> certificates, Strand strand,
                   std::shared_ptr<ServerState> server, const tcp::endpoint& peer)
        : HttpSession(std::move(strand), std::move(server), fmt::format("{}", peer)),
          context_(std::move(context)),
          certificates_(std::move(certificates)),
          stream_(std::move(stream)),
          handshakeFrom_(peer.address())
    {
    }
    ~TlsHttpSession() override { endHandshake(); }

    void run()
    {
        stream_.next_layer().setOwner(weak_from_this());
        stream_.next_layer().expires_after(context_->config.handshakeTimeout);
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

    std::shared_ptr<TlsContext> context_;                     // outlives stream_
    std::shared_ptr<const CertificateSet> certificates_;  // those of stream_'s handshake
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
    tls->config = config;
    tls->handshakes.configure(config.maxHandshakes, config.maxHandshakesPerAddress);
    tls->replace(loadCertificateSet(config));
    return tls;
}

std::shared_ptr<const CertificateSet> loadCertificates(const TlsContext& context)
{
    return loadCertificateSet(context.config);
}

void useCertificates(TlsContext& context, std::shared_ptr<const CertificateSet> certificates)
{
    context.replace(std::move(certificates));
}

std::size_t certificateCount(const CertificateSet& certificates) { return certificates.size(); }

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
        auto certificates = context->certificates();
        TlsStream stream(std::move(socket), certificates->defaultContext());
        session = std::make_shared<TlsHttpSession>(std::move(stream), context, std::move(certificates),
                                                   std::move(strand), std::move(server), peer);
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
