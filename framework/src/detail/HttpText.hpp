#pragma once
// Parsing of header and query text shared by Request and UpgradeRequest.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::detail {

using NameValues = std::vector<std::pair<std::string, std::string>>;

/// `s` without leading and trailing spaces and tabs (OWS, RFC 9110 5.6.3).
inline std::string_view trimOws(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// Calls `f(element)` for each non-empty element of a comma-separated field value
/// (RFC 9110 5.6.1), trimmed of OWS. The elements are views into `value`.
template <class F>
void forEachListElement(std::string_view value, F&& f)
{
    std::size_t start = 0;
    while (start <= value.size()) {
        auto end = value.find(',', start);
        if (end == std::string_view::npos) end = value.size();
        auto element = trimOws(value.substr(start, end - start));
        if (!element.empty()) f(element);
        start = end + 1;
    }
}

/// The decoded name/value pairs of a query string (application/x-www-form-urlencoded), in order.
NameValues parseQuery(std::string_view query);

/// Appends the cookies of one Cookie field value to `out` (RFC 6265 5.4, parsed leniently).
void parseCookies(std::string_view field, NameValues& out);

/// The value of the first pair named `name` (case-sensitive).
std::optional<std::string> firstValue(NameValues pairs, std::string_view name);

}  // namespace wharf::detail
