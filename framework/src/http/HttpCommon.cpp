// The stream-independent parts of an HTTP connection (compiled once).

#include "detail/HttpSession.hpp"

namespace wharf::detail {

bool toRequest(http::request<http::string_body>&& in, Request& out)
{
    out.setMethod(std::string(in.method_string()));
    out.setVersion(static_cast<int>(in.version()));
    auto& headers = out.mutableHeaders();
    for (const auto& field : in) headers.add(std::string(field.name_string()), std::string(field.value()));
    out.setBody(std::move(in.body()));
    return out.setTarget(std::string(in.target()));
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
