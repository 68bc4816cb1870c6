// HttpServlet and ServletContextHandler (see wharf/ServletContextHandler.hpp).
#include <wharf/ServletContextHandler.hpp>

#include "detail/PathSpec.hpp"
#include "detail/StaticFiles.hpp"
#include "handler/RequestBuilder.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace wharf {

// ---- HttpServlet ---------------------------------------------------------------------

void HttpServlet::service(Request& request, Response& response)
{
    // Method names are case-sensitive (RFC 9110 9.1).
    const std::string& m = request.method();
    if (m == "GET") doGet(request, response);
    else if (m == "HEAD") doHead(request, response);
    else if (m == "POST") doPost(request, response);
    else if (m == "PUT") doPut(request, response);
    else if (m == "DELETE") doDelete(request, response);
    else if (m == "PATCH") doPatch(request, response);
    else if (m == "OPTIONS") doOptions(request, response);
    else response.sendError(501);
}

void HttpServlet::doGet(Request&, Response& response) { methodNotAllowed(response); }

// HEAD is GET without the body: the body (or file) doGet produces is left in place, and
// the HTTP layer, seeing a HEAD request, sends only the headers with the Content-Length
// the body would have had (RFC 9110 9.3.2).
void HttpServlet::doHead(Request& request, Response& response) { doGet(request, response); }

void HttpServlet::doPost(Request&, Response& response) { methodNotAllowed(response); }
void HttpServlet::doPut(Request&, Response& response) { methodNotAllowed(response); }
void HttpServlet::doDelete(Request&, Response& response) { methodNotAllowed(response); }
void HttpServlet::doPatch(Request&, Response& response) { methodNotAllowed(response); }

void HttpServlet::doOptions(Request&, Response& response)
{
    response.setStatus(204);
    response.setHeader("Allow", allowHeader());
    response.setBody({});
}

std::string HttpServlet::allowHeader() const
{
    static constexpr std::pair<Method, std::string_view> names[] = {
        {Get, "GET"}, {Head, "HEAD"}, {Post, "POST"}, {Put, "PUT"}, {Delete, "DELETE"}, {Patch, "PATCH"}, {Options, "OPTIONS"},
    };
    std::string allow;
    for (const auto& [bit, name] : names) {
        if (!(implemented_ & bit)) continue;
        if (!allow.empty()) allow += ", ";
        allow += name;
    }
    return allow;
}

void HttpServlet::methodNotAllowed(Response& response) const
{
    response.sendError(405);
    response.setHeader("Allow", allowHeader());  // RFC 9110 15.5.6: a 405 must carry Allow
}

// ---- ServletContextHandler -----------------------------------------------------------

struct ServletContextHandler::Impl {
    detail::PathMappings<std::shared_ptr<HttpServlet>> servlets;
    std::vector<std::string> specs;  // to refuse a spec mapped twice
};

ServletContextHandler::ServletContextHandler(std::string contextPath)
    : ContextHandler(std::move(contextPath)), impl_(std::make_unique<Impl>())
{
}

ServletContextHandler::~ServletContextHandler() = default;

void ServletContextHandler::addServletImpl(std::string_view pathSpec, std::shared_ptr<HttpServlet> servlet)
{
    detail::PathSpec spec(pathSpec);  // throws for a malformed spec
    if (!servlet) throw std::invalid_argument(fmt::format("null servlet for path spec '{}'", pathSpec));
    if (std::find(impl_->specs.begin(), impl_->specs.end(), pathSpec) != impl_->specs.end())
        throw std::invalid_argument(fmt::format("path spec '{}' is already mapped in context '{}'", pathSpec,
                                                contextPath().empty() ? "/" : contextPath()));
    impl_->specs.emplace_back(pathSpec);
    impl_->servlets.add(std::move(spec), std::move(servlet));
}

namespace {

/// addGet / addHandler: a servlet around a function.
class FunctionServlet final : public HttpServlet {
public:
    using Function = std::function<void(const Request&, Response&)>;
    FunctionServlet(Function f, bool getOnly) : f_(std::move(f)), getOnly_(getOnly)
    {
        if (getOnly) setImplementedMethods(Get | Head);
    }
    void service(Request& request, Response& response) override
    {
        if (getOnly_) HttpServlet::service(request, response);
        else f_(request, response);
    }
    void doGet(Request& request, Response& response) override { f_(request, response); }

private:
    Function f_;
    bool getOnly_;
};

}  // namespace

void ServletContextHandler::addGet(std::string_view pathSpec, std::function<void(const Request&, Response&)> handler)
{
    if (!handler) throw std::invalid_argument(fmt::format("addGet(\"{}\"): the handler is empty", pathSpec));
    addServletImpl(pathSpec, std::make_shared<FunctionServlet>(std::move(handler), true));
}

void ServletContextHandler::addHandler(std::string_view pathSpec,
                                       std::function<void(const Request&, Response&)> handler)
{
    if (!handler) throw std::invalid_argument(fmt::format("addHandler(\"{}\"): the handler is empty", pathSpec));
    addServletImpl(pathSpec, std::make_shared<FunctionServlet>(std::move(handler), false));
}

void ServletContextHandler::addStaticFiles(std::string_view pathSpec, const std::filesystem::path& directory)
{
    const bool prefix = detail::PathSpec(pathSpec).kind() == detail::PathSpec::Kind::Prefix;
    addServletImpl(pathSpec, detail::makeStaticFileServlet(directory, prefix));
}

bool ServletContextHandler::handleInContext(Request& request, Response& response)
{
    auto found = impl_->servlets.find(request.pathInContext());
    if (!found) return false;  // the server answers 404
    detail::RequestBuilder(request).setServletMatch(std::move(found->match.servletPath),
                                                    std::move(found->match.pathInfo), std::move(found->match.params));
    (*found->value)->service(request, response);
    return true;
}

}  // namespace wharf
