#pragma once
// What a WebSocketCreator sees of the upgrade request and may set on the response.

#include <wharf/Http.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf {

/// The HTTP upgrade request of a WebSocket connection (Jetty's UpgradeRequest).
/// Kept for the whole life of the session (Session::upgradeRequest()), so it is compact:
/// one heap block holding every string. Not kept: the body (always empty on an upgrade)
/// and the handshake's own header fields, which wharf has checked and answered
/// (Sec-WebSocket-Key, Sec-WebSocket-Version, Upgrade, Connection); Sec-WebSocket-Protocol
/// and Sec-WebSocket-Extensions are kept. The string_views it returns point into that block: they are valid as long as
/// this UpgradeRequest is (the shared_ptr a session hands out keeps it alive).
/// Thread-safety: immutable; const members are safe from any thread.
class UpgradeRequest {
public:
    /// Copies what the accessors need out of `request`; nothing refers to it afterwards.
    explicit UpgradeRequest(const Request& request);
    /// Copies the block. A moved-from request is empty: "" strings, no headers, heapBytes() 0.
    UpgradeRequest(const UpgradeRequest& other);
    UpgradeRequest(UpgradeRequest&& other) noexcept;
    UpgradeRequest& operator=(UpgradeRequest other) noexcept;
    ~UpgradeRequest();

    /// A copy of the whole HTTP request (method, target, headers, version, context and
    /// servlet paths, path parameters), rebuilt on each call; the body is empty.
    /// The accessors below are cheaper when they have what you need.
    Request httpRequest() const;
    /// "GET" (the servlet refuses anything else).
    std::string_view method() const noexcept { return text(Field::Method); }
    /// The request-target as sent ("/chat?room=1").
    std::string_view target() const noexcept { return text(Field::Target); }
    /// The percent-decoded path of the target, without the query ("/chat").
    std::string_view path() const noexcept { return text(Field::Path); }
    /// The raw query string without '?' ("" when there is none).
    std::string_view queryString() const noexcept { return text(Field::Query); }
    /// As Request's: context path, path in context, servlet path and path info.
    std::string_view contextPath() const noexcept { return text(Field::ContextPath); }
    std::string_view pathInContext() const noexcept { return text(Field::PathInContext); }
    std::string_view servletPath() const noexcept { return text(Field::ServletPath); }
    std::string_view pathInfo() const noexcept { return text(Field::PathInfo); }
    /// A value bound by a URI template path spec ("/rooms/{room}" -> "room").
    std::optional<std::string> pathParameter(std::string_view name) const;
    /// The first decoded value of a query parameter (as Request::queryParameter).
    std::optional<std::string> queryParameter(std::string_view name) const;
    /// The first value of a header; names compare case-insensitively.
    std::optional<std::string_view> header(std::string_view name) const;
    /// A copy of all header fields in arrival order, built on each call (header() is cheaper).
    Headers headers() const;
    /// A cookie's value from the Cookie header(s) (as Request::cookie).
    std::optional<std::string> cookie(std::string_view name) const;
    /// The Origin header ("" when absent).
    std::string_view origin() const;
    /// Subprotocols offered in Sec-WebSocket-Protocol, in the client's order of preference.
    std::vector<std::string_view> subprotocols() const;
    /// Extension names offered in Sec-WebSocket-Extensions ("permessage-deflate", ...),
    /// without their parameters.
    std::vector<std::string_view> extensions() const;
    bool hasSubprotocol(std::string_view name) const;
    /// "203.0.113.7:52114" or "[::1]:52114".
    std::string_view remoteAddress() const noexcept { return text(Field::RemoteAddress); }
    bool isSecure() const noexcept;
    /// The size of the heap block this request holds (for memory accounting; the
    /// shared_ptr's control block is not included).
    std::size_t heapBytes() const noexcept;

private:
    struct Block;
    enum class Field : unsigned { Method, Target, Path, Query, RemoteAddress, ContextPath, PathInContext,
                                  ServletPath, PathInfo };
    enum class List : unsigned { Headers, PathParameters, Subprotocols, Extensions };

    std::string_view text(Field field) const noexcept { return entry(static_cast<std::size_t>(field)); }
    /// The string of a table entry: the fields first, then the lists' entries.
    std::string_view entry(std::size_t index) const noexcept;
    /// A header or path parameter is two entries (name, value); the other items one.
    static constexpr std::size_t entriesPerItem(List list) noexcept
    {
        return list == List::Headers || list == List::PathParameters ? 2 : 1;
    }
    /// The table index of a list's first entry, and the list's number of items.
    std::size_t first(List list) const noexcept;
    std::size_t count(List list) const noexcept;
    /// Item `i` of a list: its name (the whole item for a one-entry list) and value.
    std::string_view name(List list, std::size_t i) const noexcept;
    std::string_view value(List list, std::size_t i) const noexcept;
    std::vector<std::string_view> strings(List list) const;

    Block* block_;  // null only when moved from
};

/// The answer a creator gives (Jetty's UpgradeResponse): accept (the default), with a
/// subprotocol and extra headers, or reject with an HTTP status.
class UpgradeResponse {
public:
    /// Chooses one of the offered subprotocols. Choosing one that was not offered makes the
    /// upgrade fail with 500 (RFC 6455 4.2.2 forbids answering with an unoffered one).
    void setAcceptedSubprotocol(std::string protocol) { subprotocol_ = std::move(protocol); }
    const std::string& acceptedSubprotocol() const noexcept { return subprotocol_; }
    /// Adds a header to the 101 response (or to the rejection). Throws std::invalid_argument,
    /// naming the header, for a field that would split the response (see Headers); thrown
    /// out of the creator, the upgrade is answered with 500.
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
