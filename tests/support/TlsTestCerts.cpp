#include "support/TlsTestCerts.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wharf::test {
namespace {

struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
    void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

void check(bool ok, const char* what)
{
    if (!ok) throw std::runtime_error(std::string("test certificates: ") + what + " failed");
}

Key makeKey()
{
    Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    check(key != nullptr, "EVP_PKEY_Q_keygen");
    return key;
}

void addExtension(X509* cert, X509V3_CTX& ctx, int nid, const char* value)
{
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, value);
    check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
    X509_EXTENSION_free(ext);
}

/// A certificate for `key` named `commonName`, signed by issuer/issuerKey (self-signed when
/// null); a leaf has `subjectAltName` (an OpenSSL extension value; "" for none). Valid from
/// an hour ago for a week unless `expired` (then it ended yesterday).
Cert makeCertificate(EVP_PKEY* key, const char* commonName, X509* issuer, EVP_PKEY* issuerKey, long serial,
                     const std::string& subjectAltName = "DNS:localhost,IP:127.0.0.1", bool expired = false)
{
    Cert cert(X509_new());
    X509* x = cert.get();
    check(X509_set_version(x, 2) == 1, "X509_set_version");
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), expired ? -2 * 24 * 3600L : -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), expired ? -24 * 3600L : 7 * 24 * 3600L);
    check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("wharf tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(commonName), -1, -1, 0);
    check(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1, "X509_set_issuer_name");

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
    addExtension(x, ctx, NID_subject_key_identifier, "hash");
    addExtension(x, ctx, NID_authority_key_identifier, "keyid:always");
    if (!issuer) {
        addExtension(x, ctx, NID_basic_constraints, "critical,CA:TRUE");
        addExtension(x, ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        addExtension(x, ctx, NID_basic_constraints, "critical,CA:FALSE");
        addExtension(x, ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        addExtension(x, ctx, NID_ext_key_usage, "serverAuth");
        if (!subjectAltName.empty()) addExtension(x, ctx, NID_subject_alt_name, subjectAltName.c_str());
    }
    check(X509_sign(x, issuerKey ? issuerKey : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

struct Bio {
    explicit Bio(const std::filesystem::path& file, const char* mode = "w") : bio(BIO_new_file(file.c_str(), mode))
    {
        check(bio != nullptr, "BIO_new_file");
    }
    ~Bio() { BIO_free(bio); }
    BIO* bio;
};

void writeCertificates(const std::filesystem::path& file, const std::vector<X509*>& certs)
{
    Bio out(file);
    for (X509* c : certs) check(PEM_write_bio_X509(out.bio, c) == 1, "PEM_write_bio_X509");
}

void writeKey(const std::filesystem::path& file, EVP_PKEY* key, const std::string* password = nullptr)
{
    Bio out(file);
    if (password)
        check(PEM_write_bio_PKCS8PrivateKey(out.bio, key, EVP_aes_256_cbc(), password->data(),
                                            static_cast<int>(password->size()), nullptr, nullptr) == 1,
              "PEM_write_bio_PKCS8PrivateKey");
    else
        check(PEM_write_bio_PrivateKey(out.bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
              "PEM_write_bio_PrivateKey");
}

struct Generated : TlsTestCerts {
    Generated()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "wharf-tls-XXXXXX").string();
        check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
        dir = pattern;
        caCertificate = dir / "ca.pem";
        caKey = dir / "ca-key.pem";
        chain = dir / "server-chain.pem";
        key = dir / "server-key.pem";
        encryptedKey = dir / "server-key-encrypted.pem";
        otherKey = dir / "other-key.pem";
        expiredChain = dir / "expired-chain.pem";

        const Key caKey_ = makeKey();
        const Cert ca = makeCertificate(caKey_.get(), "wharf test CA", nullptr, nullptr, 1);
        const Key serverKey = makeKey();
        const Cert leaf = makeCertificate(serverKey.get(), "localhost", ca.get(), caKey_.get(), 2);
        const Key other = makeKey();
        const Cert expired = makeCertificate(serverKey.get(), "localhost", ca.get(), caKey_.get(), 3,
                                             "DNS:localhost,IP:127.0.0.1", true);

        writeCertificates(caCertificate, {ca.get()});
        writeKey(caKey, caKey_.get());
        writeCertificates(chain, {leaf.get(), ca.get()});
        writeKey(key, serverKey.get());
        writeKey(encryptedKey, serverKey.get(), &password);
        writeKey(otherKey, other.get());
        writeCertificates(expiredChain, {expired.get(), ca.get()});
    }
    ~Generated()
    {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

/// The one PEM object in `file`, read with `read` (PEM_read_bio_X509, ...).
template <class Raw>
Raw* readPem(const std::filesystem::path& file, Raw* (*read)(BIO*, Raw**, pem_password_cb*, void*))
{
    Bio in(file, "r");
    Raw* object = read(in.bio, nullptr, nullptr, nullptr);
    check(object != nullptr, "PEM_read_bio");
    return object;
}

}  // namespace

SslCertificate TlsTestCerts::issue(const std::string& stem, const std::string& commonName,
                                   const std::vector<std::string>& dnsNames) const
{
    const Key ca(readPem(caKey, PEM_read_bio_PrivateKey));
    const Cert caCert(readPem(caCertificate, PEM_read_bio_X509));
    std::string alternatives;
    for (const auto& name : dnsNames) alternatives += (alternatives.empty() ? "DNS:" : ",DNS:") + name;
    static std::atomic<long> serial{100};
    const Key key = makeKey();
    const Cert leaf = makeCertificate(key.get(), commonName.c_str(), caCert.get(), ca.get(), serial++, alternatives);
    SslCertificate certificate;
    certificate.certificateChainFile = dir / (stem + "-chain.pem");
    certificate.privateKeyFile = dir / (stem + "-key.pem");
    writeCertificates(certificate.certificateChainFile, {leaf.get(), caCert.get()});
    writeKey(certificate.privateKeyFile, key.get());
    return certificate;
}

const TlsTestCerts& TlsTestCerts::get()
{
    static const Generated certs;
    return certs;
}

SslConfig TlsTestCerts::sslConfig(std::chrono::milliseconds handshakeTimeout) const
{
    SslConfig config;
    config.certificateChainFile = chain;
    config.privateKeyFile = key;
    config.handshakeTimeout = handshakeTimeout;
    return config;
}

}  // namespace wharf::test
