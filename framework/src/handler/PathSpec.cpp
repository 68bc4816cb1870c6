// Servlet path specs: parsing, validation, matching and precedence (see detail/PathSpec.hpp).
#include "detail/PathSpec.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace wharf::detail {

namespace {

[[noreturn]] void fail(std::string_view spec, std::string_view problem)
{
    throw std::invalid_argument(fmt::format("malformed path spec '{}': {}", spec, problem));
}

bool isNameChar(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/// The segments of a path starting with '/' ("/a/b" -> "a", "b"; "/" -> "").
std::vector<std::string_view> splitSegments(std::string_view path)
{
    std::vector<std::string_view> out;
    path.remove_prefix(1);
    for (;;) {
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) return out;
        path.remove_prefix(slash + 1);
    }
}

/// Checks the literal part of an exact or prefix spec: '/'-separated, no '*', no braces,
/// no empty segment except a trailing one (exact "/docs/").
void checkLiteralPath(std::string_view spec, std::string_view path)
{
    if (path.find('*') != std::string_view::npos)
        fail(spec, "'*' is only allowed as a final \"/*\" (prefix) or a leading \"*.\" (suffix)");
    if (path.find_first_of("{}") != std::string_view::npos)
        fail(spec, "'{' and '}' are only allowed around a whole template segment such as \"/{name}\"");
    if (path.find("//") != std::string_view::npos) fail(spec, "empty path segment (\"//\")");
}

}  // namespace

PathSpec::PathSpec(std::string_view spec) : spec_(spec)
{
    if (spec.empty()) fail(spec, "a path spec must not be empty (use \"/\" for the default mapping)");

    if (spec == "/") {
        kind_ = Kind::Default;
        return;
    }
    if (spec.front() == '*') {
        if (spec.size() < 3 || spec[1] != '.')
            fail(spec, "a spec starting with '*' must be a suffix spec such as \"*.html\"");
        auto ext = spec.substr(1);
        if (ext.find_first_of("/*{}") != std::string_view::npos)
            fail(spec, "a suffix spec must not contain '/', '*', '{' or '}' after \"*.\"");
        kind_ = Kind::Suffix;
        literal_ = ext;
        return;
    }
    if (spec.front() != '/') fail(spec, "a path spec must start with '/' or be a suffix spec \"*.ext\"");

    if (spec.ends_with("/*")) {
        auto prefix = spec.substr(0, spec.size() - 2);
        checkLiteralPath(spec, prefix);
        if (prefix.ends_with('/')) fail(spec, "empty path segment before \"/*\"");
        kind_ = Kind::Prefix;
        literal_ = prefix;
        return;
    }
    if (spec.find_first_of("{}") == std::string_view::npos) {
        checkLiteralPath(spec, spec);
        kind_ = Kind::Exact;
        literal_ = spec;
        return;
    }

    // URI template: every segment is either literal or exactly "{name}".
    kind_ = Kind::Template;
    if (spec.find('*') != std::string_view::npos) fail(spec, "'*' is not allowed in a URI template");
    for (auto segment : splitSegments(spec)) {
        if (segment.empty()) fail(spec, "empty path segment in a URI template");
        if (segment.front() != '{') {
            if (segment.find_first_of("{}") != std::string_view::npos)
                fail(spec, fmt::format("'{}' mixes literal text and a variable; a variable must be a whole segment",
                                       segment));
            segments_.emplace_back(segment);
            literalChars_ += segment.size() + 1;
            continue;
        }
        if (segment.size() < 3 || segment.back() != '}')
            fail(spec, fmt::format("'{}' is not a whole-segment variable \"{{name}}\"", segment));
        auto name = segment.substr(1, segment.size() - 2);
        for (char c : name)
            if (!isNameChar(c))
                fail(spec, fmt::format("variable name '{}' may only contain A-Z, a-z, 0-9 and '_'", name));
        for (const auto& existing : names_)
            if (existing == name) fail(spec, fmt::format("variable '{}' appears twice", name));
        segments_.emplace_back();
        names_.emplace_back(name);
        literalChars_ += 1;  // the '/' before it
    }
}

std::optional<PathSpec::Match> PathSpec::match(std::string_view path) const
{
    switch (kind_) {
    case Kind::Exact:
        if (path == literal_) return Match{std::string(path), {}, {}};
        return std::nullopt;
    case Kind::Prefix:
        if (path == literal_ || (path.starts_with(literal_) && path.size() > literal_.size() &&
                                 path[literal_.size()] == '/'))
            return Match{literal_, std::string(path.substr(literal_.size())), {}};
        return std::nullopt;
    case Kind::Suffix:
        if (path.ends_with(literal_)) return Match{std::string(path), {}, {}};
        return std::nullopt;
    case Kind::Default:
        return Match{std::string(path), {}, {}};
    case Kind::Template:
        break;
    }
    if (!path.starts_with('/')) return std::nullopt;
    auto parts = splitSegments(path);
    if (parts.size() != segments_.size()) return std::nullopt;
    Match m{std::string(path), {}, {}};
    std::size_t variable = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!segments_[i].empty()) {
            if (parts[i] != segments_[i]) return std::nullopt;
        } else {
            if (parts[i].empty()) return std::nullopt;
            m.params.emplace(names_[variable++], parts[i]);
        }
    }
    return m;
}

bool PathSpec::betterThan(const PathSpec& other) const noexcept
{
    if (kind_ != other.kind_) return kind_ < other.kind_;  // Kind is declared in precedence order
    if (kind_ == Kind::Template) return literalChars_ > other.literalChars_;
    if (kind_ == Kind::Prefix) return literal_.size() > other.literal_.size();
    if (kind_ == Kind::Suffix) return literal_.size() > other.literal_.size();
    return false;
}

}  // namespace wharf::detail
