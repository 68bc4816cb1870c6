#pragma once
// Servlet path specs (Jetty's ServletPathSpec + UriTemplatePathSpec).

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::detail {

/// One parsed path spec:
///   Exact    "/chat"           matches only "/chat"
///   Prefix   "/api/*"          matches "/api", "/api/", "/api/x/y" (servletPath "/api", pathInfo rest)
///   Suffix   "*.html"          matches any path ending in ".html"
///   Default  "/"               matches everything (servletPath = path, pathInfo empty)
///   Template "/rooms/{room}"   one path segment per {name}; values bound by name
/// Malformed specs throw std::invalid_argument naming the spec and the problem.
class PathSpec {
public:
    enum class Kind { Exact, Template, Prefix, Suffix, Default };

    explicit PathSpec(std::string_view spec);

    struct Match {
        std::string servletPath;
        std::string pathInfo;
        std::map<std::string, std::string, std::less<>> params;
    };
    std::optional<Match> match(std::string_view path) const;

    Kind kind() const noexcept { return kind_; }
    const std::string& spec() const noexcept { return spec_; }
    /// Orders specs by precedence: exact, template (more literal characters first),
    /// longest prefix, suffix, default. Lower ranks win.
    bool betterThan(const PathSpec& other) const noexcept;

private:
    std::string spec_;
    Kind kind_ = Kind::Exact;
    std::string literal_;                 // exact path, prefix (without "/*") or suffix (".html")
    std::vector<std::string> segments_;   // template: literal segments, or "" for a variable
    std::vector<std::string> names_;      // template: variable names in segment order
    std::size_t literalChars_ = 0;
};

/// Specs sorted by precedence with the value each maps to; first match wins.
template <class T>
class PathMappings {
public:
    void add(PathSpec spec, T value)
    {
        auto it = entries_.begin();
        while (it != entries_.end() && !spec.betterThan(it->first)) ++it;
        entries_.emplace(it, std::move(spec), std::move(value));
    }
    struct Found {
        const T* value;
        PathSpec::Match match;
    };
    std::optional<Found> find(std::string_view path) const
    {
        for (const auto& [spec, value] : entries_)
            if (auto m = spec.match(path)) return Found{&value, std::move(*m)};
        return std::nullopt;
    }
    bool empty() const noexcept { return entries_.empty(); }

private:
    std::vector<std::pair<PathSpec, T>> entries_;
};

}  // namespace wharf::detail
