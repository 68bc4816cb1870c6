// The static file servlet (see detail/StaticFiles.hpp).
#include "detail/StaticFiles.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace wharf::detail {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr std::array<std::string_view, 7> dayNames{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> monthNames{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (it is refused
// after fstat anyway); reads of a regular file ignore it. O_NOCTTY: a terminal in the root
// never becomes the process's controlling terminal.
constexpr int fileFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
constexpr int maxSymlinks = 40;  // Linux's MAXSYMLINKS: more links than this is a loop

std::atomic<bool> openat2Missing{false};

/// A file descriptor, closed when it goes out of scope.
class UniqueFd {
public:
    explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept
    {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_;
};

/// openat2(2) (Linux 5.6; glibc 2.36 has no wrapper): the kernel resolves `rel` and fails
/// with EXDEV instead of leaving `rootFd` through ".." or an absolute symlink.
int openat2Beneath(int rootFd, const std::string& rel)
{
    open_how how{};
    how.flags = fileFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = ::syscall(SYS_openat2, rootFd, rel.c_str(), &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    return static_cast<int>(fd);
}

/// Pushes the components of `path` onto `pending` so that the first one is walked first.
void pushComponents(std::vector<std::string>& pending, std::string_view path)
{
    while (!path.empty()) {
        const auto slash = path.rfind('/');
        const auto name = slash == std::string_view::npos ? path : path.substr(slash + 1);
        if (!name.empty() && name != ".") pending.emplace_back(name);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
    }
}

/// The walk openBeneath falls back to: one component at a time, relative to a directory
/// already open, with O_NOFOLLOW so the kernel never follows a symlink itself. A symlink's
/// target is read (readlinkat) and walked the same way in its place: ".." against the
/// directories walked so far (never above the root), an absolute target only when it
/// spells the canonical root or a path below it.
int walkBeneath(int rootFd, std::string_view rootPath, std::string_view rel)
{
    std::vector<std::string> pending;  // components still to walk, the next one last
    pushComponents(pending, rel);
    std::vector<UniqueFd> dirs;  // directories walked below the root, the current one last
    int links = 0;
    while (!pending.empty()) {
        const std::string name = std::move(pending.back());
        pending.pop_back();
        if (name == "..") {
            if (dirs.empty()) {
                errno = EXDEV;
                return -1;
            }
            dirs.pop_back();
            continue;
        }
        const int at = dirs.empty() ? rootFd : dirs.back().get();
        const bool last = pending.empty();
        const int fd = ::openat(at, name.c_str(), (last ? fileFlags : O_PATH | O_DIRECTORY | O_CLOEXEC) | O_NOFOLLOW);
        if (fd >= 0) {
            if (last) return fd;
            dirs.emplace_back(fd);
            continue;
        }
        // O_NOFOLLOW fails with ELOOP on a symlink, O_DIRECTORY with ENOTDIR: maybe a symlink.
        const int openError = errno;
        if (openError != ELOOP && openError != ENOTDIR) return -1;
        std::string target(PATH_MAX, '\0');
        const auto n = ::readlinkat(at, name.c_str(), target.data(), target.size());
        if (n <= 0) {
            errno = openError;  // not a symlink after all (a file where a directory was needed)
            return -1;
        }
        if (++links > maxSymlinks || static_cast<std::size_t>(n) == target.size()) {
            errno = links > maxSymlinks ? ELOOP : ENAMETOOLONG;
            return -1;
        }
        target.resize(static_cast<std::size_t>(n));
        if (target.front() == '/') {
            const std::string_view root = rootPath == "/" ? std::string_view() : rootPath;
            if (!target.starts_with(root) || (target.size() > root.size() && target[root.size()] != '/')) {
                errno = EXDEV;
                return -1;
            }
            target.erase(0, root.size());
            dirs.clear();  // walked from the root again
        }
        pushComponents(pending, target);
    }
    // The path ended at a directory already walked (the root, or after "..").
    return ::openat(dirs.empty() ? rootFd : dirs.back().get(), ".", fileFlags);
}

/// RFC 9110 13.1.2: If-None-Match uses the weak comparison ("*" matches any current file).
bool noneMatchHits(std::string_view header, std::string_view etag)
{
    if (etag.starts_with("W/")) etag.remove_prefix(2);
    while (!header.empty()) {
        auto c = header.front();
        if (c == ' ' || c == '\t' || c == ',') {
            header.remove_prefix(1);
        } else if (c == '*') {
            return true;
        } else {
            if (header.starts_with("W/")) header.remove_prefix(2);
            if (!header.starts_with('"')) return false;  // malformed: ignore the rest
            auto close = header.find('"', 1);
            if (close == std::string_view::npos) return false;
            if (header.substr(0, close + 1) == etag) return true;
            header.remove_prefix(close + 1);
        }
    }
    return false;
}

/// The request path ("/docs/a.txt") as a path below the root ("docs/a.txt", "" for the
/// root itself), or nullopt when it cannot name something below it: relative, with "..",
/// a backslash or a NUL.
std::optional<std::string> relativeToRoot(std::string_view path)
{
    if (!path.empty() && path.front() != '/') return std::nullopt;
    if (path.find_first_of(std::string_view("\\\0", 2)) != std::string_view::npos) return std::nullopt;
    std::string rel;
    while (!path.empty()) {
        path.remove_prefix(1);  // the '/'
        const auto segment = path.substr(0, path.find('/'));
        path.remove_prefix(segment.size());
        if (segment == "..") return std::nullopt;
        if (segment.empty() || segment == ".") continue;
        if (!rel.empty()) rel += '/';
        rel += segment;
    }
    return rel;
}

class StaticFileServlet final : public HttpServlet {
public:
    StaticFileServlet(fs::path root, UniqueFd rootFd, bool pathInfoOnly)
        : root_(std::move(root)), rootFd_(std::move(rootFd)), pathInfoOnly_(pathInfoOnly)
    {
        setImplementedMethods(Get | Head);
    }

    // The file is opened once, below the root's descriptor, and everything after that
    // (type, size, dates, the bytes sent) comes from that descriptor: a name swapped for
    // a symlink between a check and a later open can no longer lead out of the root.
    void doGet(Request& request, Response& response) override
    {
        auto rel = relativeToRoot(pathInfoOnly_ ? request.pathInfo() : request.servletPath() + request.pathInfo());
        if (!rel) return response.sendError(404);
        UniqueFd file(openBeneath(rootFd_.get(), root_.native(), *rel));
        struct stat st {};
        if (!file || ::fstat(file.get(), &st) != 0) return response.sendError(404);

        const bool trailingSlash = request.path().ends_with('/');  // "/static" under "/static/*" has none
        if (S_ISDIR(st.st_mode)) {
            if (!trailingSlash) return redirectToDirectory(request, response);
            *rel += rel->empty() ? "index.html" : "/index.html";
            file.reset(openBeneath(rootFd_.get(), root_.native(), *rel));  // index.html may be a symlink too
            if (!file || ::fstat(file.get(), &st) != 0) return response.sendError(404);
        } else if (trailingSlash) {
            return response.sendError(404);  // "/a.txt/" names a directory that is not there
        }
        if (!S_ISREG(st.st_mode)) return response.sendError(404);  // no listings, devices, fifos

        const auto size = static_cast<std::uint64_t>(st.st_size);
        const sys_time<nanoseconds> modified{seconds(st.st_mtim.tv_sec) + nanoseconds(st.st_mtim.tv_nsec)};
        auto etag = fmt::format("\"{:x}-{:x}\"", size, modified.time_since_epoch().count());
        response.setHeader("ETag", etag);
        response.setHeader("Last-Modified", httpDate(time_point_cast<system_clock::duration>(modified)));
        response.setHeader("Cache-Control", "no-cache");

        // RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it.
        bool notModified = false;
        if (auto inm = request.header("If-None-Match")) {
            notModified = noneMatchHits(*inm, etag);
        } else if (auto ims = request.header("If-Modified-Since")) {
            auto since = parseHttpDate(*ims);
            notModified = since && floor<seconds>(modified) <= *since;
        }
        if (notModified) {
            response.setStatus(304);
            response.setBody({});
            return;
        }
        response.setStatus(200);
        response.setContentType(std::string(contentTypeFor(fs::path(*rel))));
        response.setFile(file.release(), size);
    }

private:
    /// "/docs" -> 302 "/docs/" so relative links resolve; the raw target path is already encoded.
    static void redirectToDirectory(const Request& request, Response& response)
    {
        std::string_view path = request.target();
        path = path.substr(0, path.find('?'));
        // RFC 3986 4.2: "//evil.example/" is a network-path reference, which a browser
        // follows to that host. One leading slash keeps the redirect on this server.
        while (path.starts_with("//")) path.remove_prefix(1);
        std::string location = std::string(path) + '/';
        if (!request.queryString().empty()) location += '?' + request.queryString();
        response.setStatus(302);
        response.setHeader("Location", std::move(location));
    }

    fs::path root_;   // canonical: absolute symlinks must spell it to stay inside
    UniqueFd rootFd_;  // the root directory as it was at setup (O_PATH)
    bool pathInfoOnly_;
};

}  // namespace

int openBeneath(int rootFd, std::string_view rootPath, std::string_view rel, bool useOpenat2)
{
    if (useOpenat2 && !openat2Missing.load(std::memory_order_relaxed)) {
        const int fd = openat2Beneath(rootFd, rel.empty() ? std::string(".") : std::string(rel));
        if (fd >= 0) return fd;
        switch (errno) {
        case ENOSYS:  // a kernel before 5.6
        case EPERM:   // a seccomp filter that does not know the call (older container runtimes)
            openat2Missing.store(true, std::memory_order_relaxed);
            break;
        case EXDEV:   // an absolute symlink, or one leading out: the walk decides which
        case EAGAIN:  // a rename or mount raced the lookup, which RESOLVE_BENEATH refuses
            break;
        default:
            return -1;
        }
    }
    return walkBeneath(rootFd, rootPath, rel);
}

std::shared_ptr<HttpServlet> makeStaticFileServlet(const fs::path& root, bool pathInfoOnly)
{
    std::error_code ec;
    auto canonical = fs::canonical(root, ec);
    UniqueFd rootFd(ec ? -1 : ::open(canonical.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootFd)
        throw std::invalid_argument(
            fmt::format("static files directory '{}' does not exist or is not a directory", root.string()));
    return std::make_shared<StaticFileServlet>(std::move(canonical), std::move(rootFd), pathInfoOnly);
}

std::string_view contentTypeFor(const fs::path& file) noexcept
{
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},  // RFC 9239
        {".mjs", "text/javascript; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".json", "application/json"},  // RFC 8259 11: no charset parameter, always UTF-8
        {".map", "application/json"},
        {".xml", "application/xml"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".wasm", "application/wasm"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".pdf", "application/pdf"},
    };
    const auto& native = file.native();
    auto dot = native.rfind('.');
    auto slash = native.rfind('/');
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
        std::string_view ext(native.data() + dot, native.size() - dot);
        for (const auto& [e, type] : types)
            if (iequals(e, ext)) return type;
    }
    return "application/octet-stream";
}

std::string httpDate(system_clock::time_point time)
{
    auto secs = floor<seconds>(time);
    auto day = floor<days>(secs);
    year_month_day ymd{day};
    hh_mm_ss hms{secs - day};
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", dayNames[weekday{day}.c_encoding()],
                       unsigned(ymd.day()), monthNames[unsigned(ymd.month()) - 1], int(ymd.year()),
                       hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::optional<system_clock::time_point> parseHttpDate(std::string_view text)
{
    const std::string s(text);  // sscanf needs a terminated string
    char wday[10] = {}, mon[4] = {};
    unsigned d = 0, y = 0, h = 0, mi = 0, sec = 0;
    int used = -1;
    auto whole = [&] { return used == static_cast<int>(s.size()); };
    // IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", then the obsolete forms RFC 9110 5.6.7
    // says recipients must accept: RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime
    // "Sun Nov  6 08:49:37 1994".
    if (std::sscanf(s.c_str(), "%3[A-Za-z], %2u %3[A-Za-z] %4u %2u:%2u:%2u GMT%n", wday, &d, mon, &y, &h, &mi, &sec,
                    &used) == 7 && whole()) {
    } else if (used = -1; std::sscanf(s.c_str(), "%9[A-Za-z], %2u-%3[A-Za-z]-%2u %2u:%2u:%2u GMT%n", wday, &d, mon,
                                      &y, &h, &mi, &sec, &used) == 7 && whole()) {
        y += y < 70 ? 2000 : 1900;
    } else if (used = -1; std::sscanf(s.c_str(), "%3[A-Za-z] %3[A-Za-z] %2u %2u:%2u:%2u %4u%n", wday, mon, &d, &h,
                                      &mi, &sec, &y, &used) == 7 && whole()) {
    } else {
        return std::nullopt;
    }
    auto m = std::find(monthNames.begin(), monthNames.end(), std::string_view(mon));
    year_month_day ymd{year(static_cast<int>(y)), month(static_cast<unsigned>(m - monthNames.begin()) + 1), day(d)};
    if (m == monthNames.end() || !ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    return sys_days{ymd} + hours(h) + minutes(mi) + seconds(sec);
}

}  // namespace wharf::detail
