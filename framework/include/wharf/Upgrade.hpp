#pragma once
// What a WebSocketCreator sees of the upgrade request and may set on the response.

#include <wharf/Http.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf {

/// The HTTP upgrade request of a WebSocket connection (Jetty's UpgradeRequest).
/// Kept for the whole life of the session (Session::upgradeRequest()).
class UpgradeRequest {
public:
    explicit UpgradeRequest(Request request);

    /// The whole HTTP request: method, target, headers, context and servlet paths.
    const Request& httpRequest() const noexcept { return request_; }
    const std::string& path() const noexcept { return request_.path(); }
    std::optional<std::string> pathParameter(std::string_view name) const { return request_.pathParameter(name); }
    std::optional<std::string> queryParameter(std::string_view name) const { return request_.queryParameter(name); }
    std::optional<std::string_view> header(std::string_view name) const { return request_.header(name); }
    const Headers& headers() const noexcept { return request_.headers(); }
    std::optional<std::string> cookie(std::string_view name) const { return request_.cookie(name); }
    /// The Origin header ("" when absent).
    std::string_view origin() const;
    /// Subprotocols offered in Sec-WebSocket-Protocol, in the client's order of preference.
    const std::vector<std::string>& subprotocols() const noexcept { return subprotocols_; }
    /// Extension names offered in Sec-WebSocket-Extensions ("permessage-deflate", ...).
    const std::vector<std::string>& extensions() const noexcept { return extensions_; }
    bool hasSubprotocol(std::string_view name) const;
    const std::string& remoteAddress() const noexcept { return request_.remoteAddress(); }
    bool isSecure() const noexcept { return request_.isSecure(); }

private:
    Request request_;
    std::vector<std::string> subprotocols_;
    std::vector<std::string> extensions_;
};

/// The answer a creator gives (Jetty's UpgradeResponse): accept (the default), with a
/// subprotocol and extra headers, or reject with an HTTP status.
class UpgradeResponse {
public:
    /// Chooses one of the offered subprotocols. Choosing one that was not offered makes the
    /// upgrade fail with 500 (RFC 6455 4.2.2 forbids answering with an unoffered one).
    void setAcceptedSubprotocol(std::string protocol) { subprotocol_ = std::move(protocol); }
    const std::string& acceptedSubprotocol() const noexcept { return subprotocol_; }
    /// Adds a header to the 101 response (or to the rejection).
    void addHeader(std::string name, std::string value) { headers_.add(std::move(name), std::move(value)); }
    const Headers& headers() const noexcept { return headers_; }
    /// Refuses the upgrade with `status` (403, 401, ...) and an optional text body.
    /// The creator should then return nullptr.
    void reject(int status, std::string message = {});
    bool isRejected() const noexcept { return status_ != 101; }
    int status() const noexcept { return status_; }
    const std::string& message() const noexcept { return message_; }

private:
    std::string subprotocol_;
    Headers headers_;
    int status_ = 101;
    std::string message_;
};

}  // namespace wharf
