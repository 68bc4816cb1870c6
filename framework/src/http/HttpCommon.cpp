// The stream-independent parts of an HTTP connection (compiled once).

#include "detail/HttpSession.hpp"

namespace wharf::detail {

std::string_view toRequest(http::request<http::string_body>&& in, Request& out)
{
    out.setMethod(std::string(in.method_string()));
    out.setVersion(static_cast<int>(in.version()));
    auto& headers = out.mutableHeaders();
    for (const auto& field : in) headers.add(std::string(field.name_string()), std::string(field.value()));
    // RFC 9112 3.2: an HTTP/1.1 request without exactly one Host header gets 400.
    if (in.version() >= 11 && headers.getAll("Host").size() != 1) return "HTTP/1.1 requests need exactly one Host header";
    out.setBody(std::move(in.body()));
    std::string target(in.target().data(), in.target().size());
    // RFC 9112 3.2.2: servers accept the absolute form ("http://host/path?q"); route by its path.
    if (iequals(target.substr(0, 7), "http://") || iequals(target.substr(0, 8), "https://")) {
        const auto rest = target.substr(target.find("//") + 2);
        const auto pathStart = rest.find_first_of("/?");
        target = pathStart == std::string::npos ? "/" : rest.substr(pathStart);
        if (target.front() == '?') target = "/" + target;
    }
    return out.setTarget(std::move(target)) ? std::string_view() : "malformed request target";
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
        if (server.handler && server.handler->handle(request, response)) return;
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

bool openFileBody(const Response& response, http::file_body::value_type& body)
{
    boost::system::error_code ec;
    body.open(response.file()->c_str(), beast::file_mode::scan, ec);
    if (ec) log::warn("http: cannot open {}: {}", response.file()->string(), ec);
    return !ec;
}

}  // namespace wharf::detail
