#pragma once
// Throwaway TLS material for tests, generated at run time with the OpenSSL 3 C API into a
// fresh temporary directory (no key is ever committed): a CA, a server certificate for
// localhost and 127.0.0.1 signed by it (and an expired one), the server key plain and
// encrypted, and a key that matches nothing.

#include <wharf/Server.hpp>

#include <filesystem>
#include <string>

namespace wharf::test {

struct TlsTestCerts {
    std::filesystem::path dir;
    std::filesystem::path caCertificate;  ///< ca.pem: the trust anchor for clients
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
};

}  // namespace wharf::test
