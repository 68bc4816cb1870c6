#pragma once
// Writes a Request: the HTTP session fills it from the wire, the handler tree while routing,
// UpgradeRequest when it rebuilds one, and tests when they make one. Users only read
// requests, so none of this is in <wharf/Http.hpp>.

#include <wharf/Http.hpp>

#include <map>
#include <string>
#include <utility>

namespace wharf::detail {

/// A writer over one Request (it keeps a reference: use it while the request lives).
/// Thread-safety: as the Request.
class RequestBuilder {
public:
    explicit RequestBuilder(Request& request) noexcept : r_(request) {}

    RequestBuilder& setMethod(std::string method)
    {
        r_.method_ = std::move(method);
        return *this;
    }
    /// Sets target, path (percent-decoded) and query. Returns false, changing nothing, when
    /// the target is malformed ("*" is accepted only after setMethod("OPTIONS")).
    bool setTarget(std::string target);
    Headers& headers() noexcept { return r_.headers_; }
    RequestBuilder& setBody(std::string body)
    {
        r_.body_ = std::move(body);
        return *this;
    }
    /// 11 for HTTP/1.1, 10 for HTTP/1.0.
    RequestBuilder& setVersion(int version) noexcept
    {
        r_.version_ = version;
        return *this;
    }
    RequestBuilder& setRemoteAddress(std::string address)
    {
        r_.remote_ = std::move(address);
        return *this;
    }
    RequestBuilder& setSecure(bool secure) noexcept
    {
        r_.secure_ = secure;
        return *this;
    }
    /// The server that routes the request (detail::ServerView); it outlives the request.
    RequestBuilder& setServer(ServerView* server) noexcept
    {
        r_.server_ = server;
        return *this;
    }
    ServerView* server() const noexcept { return r_.server_; }
    /// The ContextHandler that took the request: its path and the rest of the path.
    RequestBuilder& setContext(std::string contextPath, std::string pathInContext)
    {
        r_.contextPath_ = std::move(contextPath);
        r_.pathInContext_ = std::move(pathInContext);
        return *this;
    }
    /// The servlet's match: servlet path, path info and template values.
    RequestBuilder& setServletMatch(std::string servletPath, std::string pathInfo,
                                    std::map<std::string, std::string, std::less<>> params)
    {
        r_.servletPath_ = std::move(servletPath);
        r_.pathInfo_ = std::move(pathInfo);
        r_.pathParams_ = std::move(params);
        return *this;
    }

private:
    Request& r_;
};

}  // namespace wharf::detail
