#pragma once
// Throwaway TLS material for tests, generated at run time with the OpenSSL 3 C API into a
// fresh temporary directory (no key is ever committed): a CA, a server certificate for
// localhost and 127.0.0.1 signed by it (and an expired one), the server key plain and
// encrypted, a key that matches nothing, and more certificates from the same CA on demand
// (issue()).

#include <wharf/Server.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace wharf::test {

struct TlsTestCerts {
    std::filesystem::path dir;
    std::filesystem::path caCertificate;  ///< ca.pem: the trust anchor for clients
    std::filesystem::path caKey;          ///< ca-key.pem: signs what issue() makes
    std::filesystem::path chain;          ///< server-chain.pem: leaf, then the CA
    std::filesystem::path key;            ///< server-key.pem (PKCS#8, unencrypted)
    std::filesystem::path encryptedKey;   ///< server-key-encrypted.pem (AES-256-CBC, `password`)
    std::filesystem::path otherKey;       ///< other-key.pem: a valid key for no certificate here
    std::filesystem::path expiredChain;   ///< expired-chain.pem: like `chain` (same key), but expired yesterday
    std::string password = "correct horse";

    /// Generated once per process; the directory is removed at exit.
    /// Thread-safety: safe (function-local static).
    static const TlsTestCerts& get();

    /// chain + key; handshake timeout as given.
    SslConfig sslConfig(std::chrono::milliseconds handshakeTimeout = std::chrono::seconds(10)) const;

    /// A new key and a certificate for it signed by the CA, with subject CN `commonName`
    /// and `dnsNames` as DNS subjectAltNames (none: no subjectAltName at all), written
    /// to `<stem>-chain.pem` (leaf, then the CA) and `<stem>-key.pem` in `dir`, replacing
    /// files of that stem. Thread-safety: safe for distinct stems.
    SslCertificate issue(const std::string& stem, const std::string& commonName,
                         const std::vector<std::string>& dnsNames) const;
};

}  // namespace wharf::test
