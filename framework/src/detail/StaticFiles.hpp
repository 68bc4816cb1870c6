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
/// is not an existing directory. The root is opened here, once: files are looked up below
/// that directory (openBeneath), so nothing outside it is ever served, and replacing the
/// root directory itself later is not seen (replace what is inside it instead).
std::shared_ptr<HttpServlet> makeStaticFileServlet(const std::filesystem::path& root, bool pathInfoOnly);

/// Opens `rel` ("docs/a.txt", "" for the root; no "..") for reading below the directory
/// `rootFd`, whose canonical path is `rootPath`. Symlinks are followed only while they
/// stay below the root: a relative one through "..", an absolute one when it spells
/// `rootPath` or a path below it. Tried with openat2(RESOLVE_BENEATH) first, unless
/// `useOpenat2` is false or the kernel lacks it; then, or when openat2 refused a symlink,
/// by walking one component at a time with O_NOFOLLOW. Returns a descriptor the caller
/// closes (of whatever the path names: file, directory, FIFO, ...), or -1 with errno set
/// (EXDEV for a path that would leave the root). Thread-safe.
int openBeneath(int rootFd, std::string_view rootPath, std::string_view rel, bool useOpenat2 = true);

/// The Content-Type for a file name by its extension (case-insensitive);
/// "application/octet-stream" when unknown.
std::string_view contentTypeFor(const std::filesystem::path& file) noexcept;

/// An RFC 9110 5.6.7 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), to the second.
std::string httpDate(std::chrono::system_clock::time_point time);
/// Parses IMF-fixdate and the obsolete RFC 850 and asctime forms; nullopt if invalid.
std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text);

}  // namespace wharf::detail
