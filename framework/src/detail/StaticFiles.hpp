#pragma once
// The static file servlet behind ServletContextHandler::addStaticFiles, and its helpers.

#include <wharf/ServletContextHandler.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::detail {

/// A servlet serving files below `root` (GET, HEAD, OPTIONS; others 405). With
/// `pathInfoOnly` (prefix specs such as "/static/*") the file is Request::pathInfo() below
/// the root, otherwise servletPath + pathInfo. Throws std::invalid_argument when `root`
/// is not an existing directory. Never serves anything outside the canonical root.
std::shared_ptr<HttpServlet> makeStaticFileServlet(const std::filesystem::path& root, bool pathInfoOnly);

/// The Content-Type for a file name by its extension (case-insensitive);
/// "application/octet-stream" when unknown.
std::string_view contentTypeFor(const std::filesystem::path& file) noexcept;

/// An RFC 9110 5.6.7 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), to the second.
std::string httpDate(std::chrono::system_clock::time_point time);
/// Parses IMF-fixdate and the obsolete RFC 850 and asctime forms; nullopt if invalid.
std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text);

}  // namespace wharf::detail
