#pragma once
// The HTTP request and response seen by handlers and servlets (no Beast types).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf {

namespace detail {
class RequestBuilder;
class ProtocolSwitch;
class ServerView;
struct ResponseAccess;
}  // namespace detail

/// HTTP header fields in arrival order; names compare case-insensitively (RFC 9110 5.1).
/// Every field can be written as one field line: add() and set() throw
/// std::invalid_argument, naming the header, for a name that is not an RFC 9110 token or
/// a value with a control character other than tab (CR, LF, NUL, ...), which would split
/// a response (RFC 9110 5.5). Nothing is stored then.
class Headers {
public:
    using Field = std::pair<std::string, std::string>;

    /// The first value of `name`, or nullopt.
    std::optional<std::string_view> get(std::string_view name) const;
    /// Every value of `name`, in order.
    std::vector<std::string_view> getAll(std::string_view name) const;
    bool contains(std::string_view name) const { return get(name).has_value(); }
    /// Appends a field (repeated names are kept). Throws std::invalid_argument (see above).
    void add(std::string name, std::string value);
    /// Replaces all fields named `name` with one. Throws std::invalid_argument (see above).
    void set(std::string name, std::string value);
    void erase(std::string_view name);

    const std::vector<Field>& fields() const noexcept { return fields_; }
    auto begin() const noexcept { return fields_.begin(); }
    auto end() const noexcept { return fields_.end(); }
    std::size_t size() const noexcept { return fields_.size(); }

private:
    std::vector<Field> fields_;
};

/// ASCII case-insensitive equality, as header names and tokens need.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// An HTTP request as routed through the handler tree.
/// The handler tree fills contextPath/servletPath/pathInfo/pathParameters while routing.
/// Thread-safety: a request belongs to one connection; do not share it across threads.
class Request {
public:
    const std::string& method() const noexcept { return method_; }
    /// The request-target as sent ("/chat?room=1").
    const std::string& target() const noexcept { return target_; }
    /// The percent-decoded path of the target, without the query ("/chat").
    const std::string& path() const noexcept { return path_; }
    /// The raw query string without '?' ("" when there is none).
    const std::string& queryString() const noexcept { return query_; }
    /// The first decoded value of a query parameter.
    std::optional<std::string> queryParameter(std::string_view name) const;
    /// All decoded query parameters in order (a name may repeat).
    std::vector<std::pair<std::string, std::string>> queryParameters() const;
    /// A cookie's value from the Cookie header(s).
    std::optional<std::string> cookie(std::string_view name) const;
    std::vector<std::pair<std::string, std::string>> cookies() const;

    const Headers& headers() const noexcept { return headers_; }
    std::optional<std::string_view> header(std::string_view name) const { return headers_.get(name); }
    const std::string& body() const noexcept { return body_; }
    int versionMajor() const noexcept { return version_ / 10; }
    int versionMinor() const noexcept { return version_ % 10; }
    /// "203.0.113.7:52114" or "[::1]:52114".
    const std::string& remoteAddress() const noexcept { return remote_; }
    /// True when the request arrived over TLS.
    bool isSecure() const noexcept { return secure_; }

    /// The context path of the ContextHandler that took the request ("" for the root).
    const std::string& contextPath() const noexcept { return contextPath_; }
    /// The path below the context path ("/chat" under context "/app" for "/app/chat").
    const std::string& pathInContext() const noexcept { return pathInContext_; }
    /// The part of pathInContext matched by the servlet's path spec, and the rest.
    const std::string& servletPath() const noexcept { return servletPath_; }
    const std::string& pathInfo() const noexcept { return pathInfo_; }
    /// A value bound by a URI template path spec ("/rooms/{room}" -> "room").
    std::optional<std::string> pathParameter(std::string_view name) const;
    const std::map<std::string, std::string, std::less<>>& pathParameters() const noexcept { return pathParams_; }

private:
    // Filled by the HTTP session and the handler tree (and tests) through detail::RequestBuilder.
    friend class detail::RequestBuilder;

    std::string method_ = "GET", target_ = "/", path_ = "/", query_;
    Headers headers_;
    std::string body_;
    int version_ = 11;
    std::string remote_;
    bool secure_ = false;
    std::string contextPath_, pathInContext_ = "/", servletPath_, pathInfo_;
    std::map<std::string, std::string, std::less<>> pathParams_;
    detail::ServerView* server_ = nullptr;  // the server that routes it (null in tests that build one)
};

/// The response a handler fills. Status defaults to 200 with an empty body.
/// The header setters throw std::invalid_argument for a field that would split the
/// response (see Headers); a handler that lets it escape gets 500, as for any exception.
/// A status outside 200-999 (1xx ones are interim) is answered with 500 instead.
/// Thread-safety: as Request.
class Response {
public:
    int status() const noexcept { return status_; }
    void setStatus(int status) noexcept { status_ = status; }
    Headers& headers() noexcept { return headers_; }
    const Headers& headers() const noexcept { return headers_; }
    void setHeader(std::string name, std::string value) { headers_.set(std::move(name), std::move(value)); }
    void addHeader(std::string name, std::string value) { headers_.add(std::move(name), std::move(value)); }
    void setContentType(std::string type) { setHeader("Content-Type", std::move(type)); }

    /// Replaces the body (and drops a file body).
    void setBody(std::string body)
    {
        body_ = std::move(body);
        file_.reset();
        fileSize_ = 0;
    }
    /// Appends to the body.
    void write(std::string_view text) { body_.append(text); }
    const std::string& body() const noexcept { return body_; }

    /// Sends the first `size` bytes of the open file `fd` as the body, read from offset 0
    /// (HEAD sends headers only); the caller sets Content-Type and validators. The response
    /// owns `fd` from this call on: it is closed once the last copy of file() is gone (the
    /// response and the write of it). Exactly `size` bytes are sent, as Content-Length says:
    /// a file that grows later is cut at `size`; one that shrinks below it ends the
    /// connection after what is there. Throws std::invalid_argument when `fd` is negative.
    void setFile(int fd, std::uint64_t size);
    /// Opens `file` (following symlinks) and sends it at its current size, as above.
    /// Returns false, leaving the response unchanged, when it cannot be opened or is not a
    /// regular file.
    bool setFile(const std::filesystem::path& file);
    /// The descriptor of the file body, shared (null when there is none).
    const std::shared_ptr<const int>& file() const noexcept { return file_; }
    std::uint64_t fileSize() const noexcept { return fileSize_; }

    /// Sets status and a text/plain body with `message` (or the reason phrase); drops a file body.
    void sendError(int status, std::string_view message = {});

    /// Close the connection after this response (no keep-alive).
    void setCloseConnection(bool close) noexcept { close_ = close; }
    bool closeConnection() const noexcept { return close_; }

private:
    // The hand-off of a 101 and the body's move into the write (detail::ResponseAccess).
    friend struct detail::ResponseAccess;

    int status_ = 200;
    Headers headers_;
    std::string body_;
    std::shared_ptr<const int> file_;  // closes the descriptor with its last copy
    std::uint64_t fileSize_ = 0;
    bool close_ = false;
    std::shared_ptr<detail::ProtocolSwitch> switch_;  // what a 101 hands the connection to
};

/// The standard reason phrase for a status ("Not Found"), or "Unknown".
std::string_view reasonPhrase(int status) noexcept;

}  // namespace wharf
