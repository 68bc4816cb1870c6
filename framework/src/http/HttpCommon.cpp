// The stream-independent parts of an HTTP connection (compiled once).

#include "detail/HttpSession.hpp"

#include "detail/HttpText.hpp"
#include "handler/RequestBuilder.hpp"

#include <algorithm>
#include <cerrno>
#include <vector>

#include <unistd.h>

namespace wharf::detail {

std::string_view toRequest(http::request<http::string_body>&& in, Request& out)
{
    RequestBuilder b(out);
    b.setMethod(std::string(in.method_string()));
    b.setVersion(static_cast<int>(in.version()));
    auto& headers = b.headers();
    try {
        for (const auto& field : in) headers.add(std::string(field.name_string()), std::string(field.value()));
    } catch (const std::invalid_argument&) {
        return "malformed header field";  // Beast's parser lets none through today; Headers would not keep it
    }
    // RFC 9112 3.2: an HTTP/1.1 request without exactly one Host header gets 400.
    if (in.version() >= 11 && headers.getAll("Host").size() != 1) return "HTTP/1.1 requests need exactly one Host header";
    b.setBody(std::move(in.body()));
    std::string target(in.target().data(), in.target().size());
    // RFC 9112 3.2.2: servers accept the absolute form ("http://host/path?q"); route by its path.
    if (iequals(target.substr(0, 7), "http://") || iequals(target.substr(0, 8), "https://")) {
        const auto rest = target.substr(target.find("//") + 2);
        const auto pathStart = rest.find_first_of("/?");
        target = pathStart == std::string::npos ? "/" : rest.substr(pathStart);
        if (target.front() == '?') target = "/" + target;
    }
    return b.setTarget(std::move(target)) ? std::string_view() : "malformed request target";
}

void fillHeader(const Response& response, http::response_header<>& out, bool keepAlive)
{
    out.result(static_cast<unsigned>(response.status()));
    out.reason(reasonPhrase(response.status()));
    out.version(11);
    out.set(http::field::server, "wharf");
    for (const auto& [name, value] : response.headers()) out.insert(name, value);
    if (response.status() != 101 && !keepAlive) out.set(http::field::connection, "close");
}

FramingError checkFraming(const http::request_header<>& header, bool chunked)
{
    std::vector<std::string_view> codings;
    bool present = false;
    for (const auto& field : header) {
        if (field.name() != http::field::transfer_encoding) continue;
        present = true;
        forEachListElement(field.value(), [&](std::string_view coding) { codings.push_back(coding); });
    }
    if (!present) return {};
    // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (header.version() < 11) return {400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
    // RFC 9112 6.3 item 4: the final coding of a request must be chunked.
    if (codings.empty() || !iequals(codings.back(), "chunked") || !chunked)
        return {400, "the last Transfer-Encoding of a request must be chunked"};
    // RFC 9112 7: chunked is applied once.
    for (std::size_t i = 0; i + 1 < codings.size(); ++i)
        if (iequals(codings[i], "chunked")) return {400, "chunked is applied more than once"};
    // RFC 9112 6.1: a coding the server does not understand gets 501; wharf decodes chunked only.
    if (codings.size() > 1) return {501, "transfer codings other than chunked are not implemented"};
    return {};
}

int statusForReadError(const boost::system::error_code& ec)
{
    if (ec == http::error::header_limit) return 431;
    if (ec == http::error::body_limit) return 413;
    if (ec == beast::error::timeout) return 408;
    return 400;
}

void route(ServerState& server, Request& request, Response& response)
{
    try {
        if (server.handler && server.handler->handle(request, response)) {
            // The status line is written as three digits; a 1xx is interim, so the client
            // would read the body as the final response (101 only with the WebSocket hand-over).
            const int status = response.status();
            if (status >= 200 && status <= 999) return;
            if (ResponseAccess::switchesProtocols(response)) return;
            log::error("http {} {}: the handler answered with status {}, which is not a final status; sent 500",
                       request.method(), request.path(), status);
            response = Response();
            response.sendError(500);
            return;
        }
        response = Response();
        response.sendError(404);
    } catch (const std::exception& e) {
        log::error("http {} {}: handler threw: {}", request.method(), request.path(), e.what());
        response = Response();
        response.sendError(500);
    } catch (...) {
        log::error("http {} {}: handler threw", request.method(), request.path());
        response = Response();
        response.sendError(500);
    }
}

boost::optional<std::pair<FileBody::writer::const_buffers_type, bool>> FileBody::writer::get(
    boost::system::error_code& ec)
{
    ec = {};
    const std::uint64_t left = body_.size - sent_;
    if (left == 0) return boost::none;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, sizeof buffer_));
    ssize_t n;
    do {
        n = ::pread(*body_.fd, buffer_, want, static_cast<off_t>(sent_));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        ec.assign(errno, boost::system::system_category());
        log::warn("http: cannot read a file body: {}", ec);
        return boost::none;
    }
    if (n == 0) {
        // Shorter than announced: the peer waits for bytes that will not come.
        ec = http::error::short_read;
        log::warn("http: a file body ended after {} of {} bytes (the file shrank)", sent_, body_.size);
        return boost::none;
    }
    sent_ += static_cast<std::uint64_t>(n);
    return std::make_pair(const_buffers_type(buffer_, static_cast<std::size_t>(n)), sent_ < body_.size);
}

}  // namespace wharf::detail
