// The static file servlet (see detail/StaticFiles.hpp).
#include "detail/StaticFiles.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace wharf::detail {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr std::array<std::string_view, 7> dayNames{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> monthNames{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/// True when `file` (canonical) is `root` (canonical) or below it, compared by components.
bool isInside(const fs::path& file, const fs::path& root)
{
    return std::mismatch(root.begin(), root.end(), file.begin(), file.end()).first == root.end();
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

class StaticFileServlet final : public HttpServlet {
public:
    StaticFileServlet(fs::path root, bool pathInfoOnly) : root_(std::move(root)), pathInfoOnly_(pathInfoOnly)
    {
        setImplementedMethods(Get | Head);
    }

    void doGet(Request& request, Response& response) override
    {
        const std::string rel = pathInfoOnly_ ? request.pathInfo() : request.servletPath() + request.pathInfo();
        auto file = resolve(rel);
        if (!file) return response.sendError(404);

        std::error_code ec;
        auto status = fs::status(*file, ec);
        const bool trailingSlash = request.path().ends_with('/');  // "/static" under "/static/*" has none
        if (fs::is_directory(status)) {
            if (!trailingSlash) {
                // "/docs" -> "/docs/" so relative links resolve; the raw target path is already encoded.
                std::string location = request.target().substr(0, request.target().find('?')) + '/';
                if (!request.queryString().empty()) location += '?' + request.queryString();
                response.setStatus(302);
                response.setHeader("Location", std::move(location));
                return;
            }
            file = fs::canonical(*file / "index.html", ec);  // index.html may be a symlink too
            if (ec || !isInside(*file, root_)) return response.sendError(404);
            status = fs::status(*file, ec);
        } else if (trailingSlash) {
            return response.sendError(404);  // "/a.txt/" names a directory that is not there
        }
        if (!fs::is_regular_file(status)) return response.sendError(404);  // no listings, devices, fifos
        auto size = fs::file_size(*file, ec);
        if (ec) return response.sendError(404);
        auto modified = fs::last_write_time(*file, ec);
        if (ec) return response.sendError(404);

        auto modifiedSys = file_clock::to_sys(modified);
        auto etag = fmt::format("\"{:x}-{:x}\"", size,
                                duration_cast<nanoseconds>(modifiedSys.time_since_epoch()).count());
        response.setHeader("ETag", etag);
        response.setHeader("Last-Modified", httpDate(time_point_cast<system_clock::duration>(modifiedSys)));
        response.setHeader("Cache-Control", "no-cache");

        // RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it.
        bool notModified = false;
        if (auto inm = request.header("If-None-Match")) {
            notModified = noneMatchHits(*inm, etag);
        } else if (auto ims = request.header("If-Modified-Since")) {
            auto since = parseHttpDate(*ims);
            notModified = since && floor<seconds>(modifiedSys) <= *since;
        }
        if (notModified) {
            response.setStatus(304);
            response.setBody({});
            return;
        }
        response.setStatus(200);
        response.setContentType(std::string(contentTypeFor(*file)));
        response.setFile(*file, size);
    }

private:
    /// The canonical file for `rel`, or nullopt when it is missing or would leave the root.
    std::optional<fs::path> resolve(std::string_view rel) const
    {
        if (!rel.empty() && rel.front() != '/') return std::nullopt;
        if (rel.find_first_of(std::string_view("\\\0", 2)) != std::string_view::npos) return std::nullopt;
        fs::path file = root_;
        while (!rel.empty()) {
            rel.remove_prefix(1);  // the '/'
            auto segment = rel.substr(0, rel.find('/'));
            rel.remove_prefix(segment.size());
            if (segment == "..") return std::nullopt;
            if (!segment.empty() && segment != ".") file /= segment;
        }
        std::error_code ec;
        auto canonical = fs::canonical(file, ec);  // resolves symlinks: one pointing out is caught below
        if (ec || !isInside(canonical, root_)) return std::nullopt;
        return canonical;
    }

    fs::path root_;  // canonical
    bool pathInfoOnly_;
};

}  // namespace

std::shared_ptr<HttpServlet> makeStaticFileServlet(const fs::path& root, bool pathInfoOnly)
{
    std::error_code ec;
    auto canonical = fs::canonical(root, ec);
    if (ec || !fs::is_directory(canonical, ec))
        throw std::invalid_argument(
            fmt::format("static files directory '{}' does not exist or is not a directory", root.string()));
    return std::make_shared<StaticFileServlet>(std::move(canonical), pathInfoOnly);
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
