// Headers, Request and Response (see wharf/Http.hpp), and RequestBuilder::setTarget.
#include <wharf/Http.hpp>

#include "handler/RequestBuilder.hpp"

#include "detail/Escape.hpp"
#include "detail/HttpText.hpp"

#include <algorithm>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace wharf {

namespace {

int hexValue(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Percent-decodes `in` (RFC 3986 2.1). Strict mode (paths) fails on a malformed escape
/// or a decoded NUL; form mode (application/x-www-form-urlencoded, WHATWG URL 5.1) also
/// turns '+' into a space and keeps a malformed escape as it is.
std::optional<std::string> percentDecode(std::string_view in, bool form)
{
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '+' && form) {
            out += ' ';
        } else if (c != '%') {
            out += c;
        } else {
            int h = i + 2 < in.size() ? hexValue(in[i + 1]) : -1;
            int l = i + 2 < in.size() ? hexValue(in[i + 2]) : -1;
            if (h < 0 || l < 0) {
                if (!form) return std::nullopt;
                out += c;
                continue;
            }
            char decoded = static_cast<char>(h * 16 + l);
            if (decoded == '\0' && !form) return std::nullopt;
            out += decoded;
            i += 2;
        }
    }
    return out;
}

}  // namespace

namespace detail {

NameValues parseQuery(std::string_view query)
{
    NameValues out;
    std::string_view rest = query;
    while (!rest.empty()) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto name = *percentDecode(pair.substr(0, eq), true);
        auto value = eq == std::string_view::npos ? std::string() : *percentDecode(pair.substr(eq + 1), true);
        out.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

// RFC 6265 5.4 / 4.2.1: cookie-string = cookie-pair *( ";" SP cookie-pair ), in one or
// more Cookie fields; parsed leniently (any OWS, pairs without '=' skipped), DQUOTEd
// values unquoted, no percent-decoding (RFC 6265 defines none).
void parseCookies(std::string_view field, NameValues& out)
{
    std::string_view rest = field;
    while (!rest.empty()) {
        auto semi = rest.find(';');
        auto pair = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        auto name = trimOws(pair.substr(0, eq));
        auto value = trimOws(pair.substr(eq + 1));
        if (name.empty()) continue;
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        out.emplace_back(name, value);
    }
}

std::optional<std::string> firstValue(NameValues pairs, std::string_view name)
{
    for (auto& [n, v] : pairs)
        if (n == name) return std::move(v);
    return std::nullopt;
}

}  // namespace detail

// ---- Headers -------------------------------------------------------------------------

std::optional<std::string_view> Headers::get(std::string_view name) const
{
    for (const auto& [n, v] : fields_)
        if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
}

std::vector<std::string_view> Headers::getAll(std::string_view name) const
{
    std::vector<std::string_view> out;
    for (const auto& [n, v] : fields_)
        if (iequals(n, name)) out.emplace_back(v);
    return out;
}

namespace {

/// RFC 9110 5.6.2: tchar.
bool isTokenChar(unsigned char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Response splitting: a field that is not one field line on the wire is refused here, for
// every way a field gets in (Response and UpgradeResponse setters, headers().add/set).
// RFC 9110 5.1: a name is a token. 5.5: CR, LF and NUL in a value are invalid and
// dangerous; the other controls (but HTAB) are not field-vchar either (Go and Node refuse
// them too).
void checkField(std::string_view name, std::string_view value)
{
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return isTokenChar(c); })) {
        std::string shown;
        detail::appendEscaped(shown, name);
        throw std::invalid_argument("header name \"" + shown + "\" is not a token (RFC 9110 5.6.2)");
    }
    const auto bad = std::find_if(value.begin(), value.end(),
                                  [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; });
    if (bad != value.end()) {
        std::string shown;
        detail::appendEscaped(shown, std::string_view(&*bad, 1));
        throw std::invalid_argument("header \"" + std::string(name) + "\": the value contains the control character " +
                                    shown + " (CR, LF, NUL and other controls would split the field; RFC 9110 5.5)");
    }
}

}  // namespace

void Headers::add(std::string name, std::string value)
{
    checkField(name, value);
    fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value)
{
    checkField(name, value);
    auto first = std::find_if(fields_.begin(), fields_.end(), [&](const Field& f) { return iequals(f.first, name); });
    if (first == fields_.end()) {
        fields_.emplace_back(std::move(name), std::move(value));
        return;
    }
    *first = {std::move(name), std::move(value)};  // keeps the first one's position
    fields_.erase(std::remove_if(first + 1, fields_.end(), [&](const Field& f) { return iequals(f.first, first->first); }),
                  fields_.end());
}

void Headers::erase(std::string_view name)
{
    std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

// ---- Request -------------------------------------------------------------------------

// origin-form "/path?query" (RFC 9112 3.2.1), or "*" for OPTIONS (asterisk-form, 3.2.4;
// needs setMethod first). absolute-form and authority-form are refused.
bool detail::RequestBuilder::setTarget(std::string target)
{
    for (unsigned char c : target)
        if (c <= 0x20 || c == 0x7f || c == '#') return false;
    std::string path, query;
    if (target == "*") {
        if (r_.method_ != "OPTIONS") return false;
        path = "*";
    } else {
        if (!target.starts_with('/')) return false;
        auto q = target.find('?');
        auto decoded = percentDecode(std::string_view(target).substr(0, q), false);
        if (!decoded) return false;
        path = std::move(*decoded);
        if (q != std::string::npos) query = target.substr(q + 1);
    }
    r_.target_ = std::move(target);
    r_.path_ = std::move(path);
    r_.query_ = std::move(query);
    return true;
}

std::vector<std::pair<std::string, std::string>> Request::queryParameters() const
{
    return detail::parseQuery(query_);
}

std::optional<std::string> Request::queryParameter(std::string_view name) const
{
    return detail::firstValue(queryParameters(), name);
}

std::vector<std::pair<std::string, std::string>> Request::cookies() const
{
    detail::NameValues out;
    for (std::string_view field : headers_.getAll("Cookie")) detail::parseCookies(field, out);
    return out;
}

std::optional<std::string> Request::cookie(std::string_view name) const
{
    return detail::firstValue(cookies(), name);
}

std::optional<std::string> Request::pathParameter(std::string_view name) const
{
    if (auto it = pathParams_.find(name); it != pathParams_.end()) return it->second;
    return std::nullopt;
}

// ---- Response ------------------------------------------------------------------------

void Response::setFile(int fd, std::uint64_t size)
{
    if (fd < 0) throw std::invalid_argument("Response::setFile: negative file descriptor");
    struct Owner {
        int fd;
        ~Owner() { ::close(fd); }
    };
    std::shared_ptr<Owner> owner;
    try {
        owner = std::make_shared<Owner>(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
    body_.clear();
    file_ = std::shared_ptr<const int>(owner, &owner->fd);
    fileSize_ = size;
}

bool Response::setFile(const std::filesystem::path& file)
{
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return false;
    }
    setFile(fd, static_cast<std::uint64_t>(st.st_size));
    return true;
}

void Response::sendError(int status, std::string_view message)
{
    status_ = status;
    setContentType("text/plain; charset=utf-8");
    setBody(std::string(message.empty() ? reasonPhrase(status) : message));
}

std::string_view reasonPhrase(int status) noexcept
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

}  // namespace wharf
