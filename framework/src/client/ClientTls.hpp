#pragma once
// The client's TLS context (ClientTlsOptions) and what a failed certificate check means.

#include <wharf/Error.hpp>
#include <wharf/WebSocketClient.hpp>

#include <openssl/ssl.h>

#include <memory>

namespace wharf::detail {

/// An SSL_CTX for client connections: TLS 1.2 or later, peer verification on (unless
/// insecureSkipVerify) against options' CA file/directory or else the system store, and
/// the client certificate when one is given. Throws std::runtime_error naming the file and
/// what is wrong with it.
std::shared_ptr<SSL_CTX> makeClientTlsContext(const ClientTlsOptions& options);

/// The Errc for a failed certificate check (SSL_get_verify_result); Errc{} for X509_V_OK.
Errc certificateError(long verifyResult) noexcept;

}  // namespace wharf::detail
