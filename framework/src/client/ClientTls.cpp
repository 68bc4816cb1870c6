// The client's TLS context (see ClientTls.hpp).
#include "client/ClientTls.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace wharf::detail {

namespace {

std::string openSslError()
{
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (!code) return "no detail from OpenSSL";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

void requireExisting(const std::filesystem::path& path, std::string_view what)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw std::runtime_error(fmt::format("ClientTlsOptions::{} {} does not exist", what, path.string()));
}

}  // namespace

std::shared_ptr<SSL_CTX> makeClientTlsContext(const ClientTlsOptions& options)
{
    ERR_clear_error();
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx) throw std::runtime_error("TLS: OpenSSL cannot make a client context: " + openSslError());
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    // As the server's connections (TlsConnection.cpp): TlsStream writes one record per call
    // from buffers that may move, and an idle connection keeps no record buffers.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(c, alpn, sizeof alpn);

    if (options.insecureSkipVerify) {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
        if (!options.caFile.empty() || !options.caDirectory.empty()) {
            if (!options.caFile.empty()) requireExisting(options.caFile, "caFile");
            if (!options.caDirectory.empty()) requireExisting(options.caDirectory, "caDirectory");
            const std::string file = options.caFile.string(), dir = options.caDirectory.string();
            if (SSL_CTX_load_verify_locations(c, file.empty() ? nullptr : file.c_str(), dir.empty() ? nullptr : dir.c_str()) != 1)
                throw std::runtime_error(fmt::format("ClientTlsOptions: cannot load the CA certificates from {} ({})",
                                                     file.empty() ? dir : file, openSslError()));
        } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
            throw std::runtime_error("TLS: cannot use the system's trust store: " + openSslError());
        }
    }

    if (!options.clientCertificateFile.empty() || !options.clientPrivateKeyFile.empty()) {
        if (options.clientCertificateFile.empty() || options.clientPrivateKeyFile.empty())
            throw std::runtime_error("ClientTlsOptions: set both clientCertificateFile and clientPrivateKeyFile");
        requireExisting(options.clientCertificateFile, "clientCertificateFile");
        requireExisting(options.clientPrivateKeyFile, "clientPrivateKeyFile");
        if (SSL_CTX_use_certificate_chain_file(c, options.clientCertificateFile.c_str()) != 1)
            throw std::runtime_error(fmt::format("ClientTlsOptions::clientCertificateFile {} is not a PEM chain ({})",
                                                 options.clientCertificateFile.string(), openSslError()));
        if (SSL_CTX_use_PrivateKey_file(c, options.clientPrivateKeyFile.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(c) != 1)
            throw std::runtime_error(fmt::format(
                "ClientTlsOptions::clientPrivateKeyFile {} is not an unencrypted PEM key for {} ({})",
                options.clientPrivateKeyFile.string(), options.clientCertificateFile.string(), openSslError()));
    }
    ERR_clear_error();
    return ctx;
}

Errc certificateError(long verifyResult) noexcept
{
    switch (verifyResult) {
    case X509_V_OK: return Errc{};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED: return Errc::CertificateUnknownCa;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return Errc::CertificateExpired;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return Errc::CertificateHostnameMismatch;
    default: return Errc::CertificateInvalid;
    }
}

}  // namespace wharf::detail
