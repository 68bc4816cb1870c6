// UpgradeRequest (see wharf/Upgrade.hpp): every string of the request in one heap block; and UpgradeResponse::reject.
//
// The block: a Block header, a table of (offset, length) entries into the characters
// that follow it, then the characters. Entries are uint16_t pairs, or uint32_t pairs
// when the characters reach 64 KiB. Table order: the Fields, then name and value of
// each header, name and value of each path parameter, the subprotocols, the extension
// names. A string that stands in one already stored (the path in the target, the
// context and servlet paths and path parameter values in the path, the query in the
// target, the subprotocols and extension names in their header values) is not stored
// again: its entry points into the other one.

#include <wharf/Upgrade.hpp>

#include "detail/HttpText.hpp"
#include "handler/RequestBuilder.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace wharf {

struct UpgradeRequest::Block {
    std::uint32_t bytes;      // the whole block: this header, the table, the characters
    std::uint32_t counts[4];  // items of each List (a header or path parameter is one item, two entries)
    std::int32_t version;     // as Request::setVersion: major * 10 + minor
    bool secure;
    bool wide;                // uint32_t table entries

    std::size_t entrySize() const noexcept { return wide ? 2 * sizeof(std::uint32_t) : 2 * sizeof(std::uint16_t); }
    const unsigned char* table() const noexcept { return reinterpret_cast<const unsigned char*>(this) + sizeof(Block); }
};

namespace {

constexpr std::size_t fieldCount = 9;  // UpgradeRequest::Field
/// A List's slot in Block::counts.
constexpr unsigned slot(auto list) noexcept { return static_cast<unsigned>(list); }
constexpr std::size_t wideFrom = 0x10000;  // characters from which uint16_t offsets no longer do

/// Lays the strings out: once with no memory to measure, once more to write the block.
class Writer {
public:
    Writer() = default;
    Writer(unsigned char* table, char* chars, bool wide) : table_(table), chars_(chars), wide_(wide) {}

    std::size_t used() const noexcept { return used_; }
    std::size_t entries() const noexcept { return entries_; }

    /// Stores the characters of `s`; returns where they start.
    std::size_t put(std::string_view s)
    {
        if (chars_ && !s.empty()) std::memcpy(chars_ + used_, s.data(), s.size());
        used_ += s.size();
        return used_ - s.size();
    }
    /// Adds a table entry.
    void entry(std::size_t offset, std::size_t length)
    {
        if (table_) {
            if (wide_) write<std::uint32_t>(offset, length);
            else write<std::uint16_t>(offset, length);
        }
        ++entries_;
    }
    /// Stores `s` and adds its entry; returns where it starts.
    std::size_t add(std::string_view s)
    {
        const auto at = put(s);
        entry(at, s.size());
        return at;
    }
    /// Adds `s` as a view into `within` (stored at `at`) when it stands there, else as a
    /// copy of its own; returns where it starts. The search is bounded (no quadratic work
    /// on long paths): prefix, suffix, or anywhere in a short `within`.
    std::size_t addWithin(std::string_view s, std::string_view within, std::size_t at)
    {
        std::size_t found = std::string_view::npos;
        if (within.starts_with(s)) found = 0;
        else if (within.ends_with(s)) found = within.size() - s.size();
        else if (within.size() <= 512) found = within.find(s);
        if (found == std::string_view::npos) return add(s);
        entry(at + found, s.size());
        return at + found;
    }

private:
    template <class T>
    void write(std::size_t offset, std::size_t length)
    {
        const T pair[2] = {static_cast<T>(offset), static_cast<T>(length)};
        std::memcpy(table_ + entries_ * sizeof pair, pair, sizeof pair);
    }

    unsigned char* table_ = nullptr;  // null while measuring
    char* chars_ = nullptr;
    bool wide_ = false;
    std::size_t used_ = 0, entries_ = 0;
};

}  // namespace

namespace {

/// The handshake's own fields: wharf has checked and answered them, and after the
/// handshake they say nothing (a nonce, "13", "websocket", "Upgrade"), so a session does
/// not keep them (~100 B each). Sec-WebSocket-Protocol/-Extensions are kept.
bool handshakeOnly(std::string_view name)
{
    return iequals(name, "Sec-WebSocket-Key") || iequals(name, "Sec-WebSocket-Version") ||
           iequals(name, "Upgrade") || iequals(name, "Connection");
}

}  // namespace

UpgradeRequest::UpgradeRequest(const Request& request) : block_(nullptr)
{
    const std::string_view target = request.target(), path = request.path();
    std::uint32_t counts[4] = {};
    // Called twice with the same request (to measure, then to write), so it makes the
    // same choices both times.
    auto layout = [&](Writer& w) {
        // In Field order.
        w.add(request.method());
        const auto targetAt = w.add(target);
        const auto pathAt = w.addWithin(path, target, targetAt);
        w.addWithin(request.queryString(), target, targetAt);
        w.add(request.remoteAddress());
        for (std::string_view s : {request.contextPath(), request.pathInContext(), request.servletPath(),
                                   request.pathInfo()})
            w.addWithin(s, path, pathAt);

        const auto headersAt = w.used();
        for (const auto& [name, value] : request.headers()) {
            if (handshakeOnly(name)) continue;
            w.add(name);
            w.add(value);
        }
        for (const auto& [name, value] : request.pathParameters()) {
            w.add(name);
            w.addWithin(value, path, pathAt);
        }
        // The list elements of a header, as (element, where it is stored).
        auto elements = [&](std::string_view header, auto&& f) {
            auto at = headersAt;
            for (const auto& [name, value] : request.headers()) {
                if (handshakeOnly(name)) continue;
                const auto valueAt = at + name.size();
                at = valueAt + value.size();
                if (!iequals(name, header)) continue;
                // (A copy: clang 14 does not let a lambda capture a structured binding.)
                const char* const valueData = value.data();
                detail::forEachListElement(value, [&](std::string_view element) {
                    f(element, valueAt + (element.data() - valueData));
                });
            }
        };
        counts[slot(List::Subprotocols)] = 0;
        elements("Sec-WebSocket-Protocol", [&](std::string_view protocol, std::size_t at) {
            w.entry(at, protocol.size());
            ++counts[slot(List::Subprotocols)];
        });
        counts[slot(List::Extensions)] = 0;
        elements("Sec-WebSocket-Extensions", [&](std::string_view extension, std::size_t at) {
            // "permessage-deflate; client_max_window_bits": the name only.
            const auto name = detail::trimOws(extension.substr(0, extension.find(';')));
            if (name.empty()) return;
            w.entry(at + (name.data() - extension.data()), name.size());
            ++counts[slot(List::Extensions)];
        });
    };

    Writer measure;
    layout(measure);
    const bool wide = measure.used() >= wideFrom;
    const std::size_t tableBytes = measure.entries() * (wide ? 8 : 4);
    const std::size_t bytes = sizeof(Block) + tableBytes + measure.used();
    if (bytes > UINT32_MAX) throw std::length_error("UpgradeRequest: request too large");

    counts[slot(List::Headers)] = static_cast<std::uint32_t>(
        std::count_if(request.headers().begin(), request.headers().end(),
                      [](const auto& field) { return !handshakeOnly(field.first); }));
    counts[slot(List::PathParameters)] = static_cast<std::uint32_t>(request.pathParameters().size());
    auto* storage = static_cast<unsigned char*>(::operator new(bytes));
    block_ = new (storage) Block{static_cast<std::uint32_t>(bytes),
                                 {counts[0], counts[1], counts[2], counts[3]},
                                 request.versionMajor() * 10 + request.versionMinor(),
                                 request.isSecure(),
                                 wide};
    Writer write(storage + sizeof(Block), reinterpret_cast<char*>(storage + sizeof(Block) + tableBytes), wide);
    layout(write);
}

UpgradeRequest::UpgradeRequest(const UpgradeRequest& other) : block_(nullptr)
{
    if (!other.block_) return;
    void* storage = ::operator new(other.block_->bytes);
    std::memcpy(storage, other.block_, other.block_->bytes);
    block_ = std::launder(static_cast<Block*>(storage));
}

UpgradeRequest::UpgradeRequest(UpgradeRequest&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}

UpgradeRequest& UpgradeRequest::operator=(UpgradeRequest other) noexcept
{
    std::swap(block_, other.block_);
    return *this;
}

UpgradeRequest::~UpgradeRequest() { ::operator delete(block_); }

std::size_t UpgradeRequest::first(List list) const noexcept
{
    std::size_t index = fieldCount;
    if (!block_) return index;
    for (unsigned i = 0; i < slot(list); ++i) index += block_->counts[i] * entriesPerItem(static_cast<List>(i));
    return index;
}

std::size_t UpgradeRequest::count(List list) const noexcept
{
    return block_ ? block_->counts[slot(list)] : 0;
}

std::string_view UpgradeRequest::name(List list, std::size_t i) const noexcept
{
    return entry(first(list) + i * entriesPerItem(list));
}

std::string_view UpgradeRequest::value(List list, std::size_t i) const noexcept
{
    return entry(first(list) + i * entriesPerItem(list) + 1);
}

std::string_view UpgradeRequest::entry(std::size_t index) const noexcept
{
    if (!block_) return {};
    const auto* table = block_->table();
    const auto entries = first(List::Extensions) + block_->counts[slot(List::Extensions)];
    const char* chars = reinterpret_cast<const char*>(table + entries * block_->entrySize());
    std::uint32_t offset, length;
    if (block_->wide) {
        std::uint32_t pair[2];
        std::memcpy(pair, table + index * sizeof pair, sizeof pair);
        offset = pair[0], length = pair[1];
    } else {
        std::uint16_t pair[2];
        std::memcpy(pair, table + index * sizeof pair, sizeof pair);
        offset = pair[0], length = pair[1];
    }
    return {chars + offset, length};
}

Request UpgradeRequest::httpRequest() const
{
    Request r;
    detail::RequestBuilder b(r);
    b.setMethod(std::string(method()));
    b.setTarget(std::string(target()));  // sets path and query as they were: it was accepted before
    b.headers() = headers();
    if (block_) b.setVersion(block_->version);
    b.setRemoteAddress(std::string(remoteAddress())).setSecure(isSecure());
    b.setContext(std::string(contextPath()), std::string(pathInContext()));
    std::map<std::string, std::string, std::less<>> params;
    for (std::size_t i = 0; i < count(List::PathParameters); ++i)
        params.emplace(name(List::PathParameters, i), value(List::PathParameters, i));
    b.setServletMatch(std::string(servletPath()), std::string(pathInfo()), std::move(params));
    return r;
}

std::optional<std::string> UpgradeRequest::pathParameter(std::string_view name) const
{
    for (std::size_t i = 0; i < count(List::PathParameters); ++i)
        if (this->name(List::PathParameters, i) == name) return std::string(value(List::PathParameters, i));
    return std::nullopt;
}

std::optional<std::string> UpgradeRequest::queryParameter(std::string_view name) const
{
    return detail::firstValue(detail::parseQuery(queryString()), name);
}

std::optional<std::string_view> UpgradeRequest::header(std::string_view name) const
{
    for (std::size_t i = 0; i < count(List::Headers); ++i)
        if (iequals(this->name(List::Headers, i), name)) return value(List::Headers, i);
    return std::nullopt;
}

Headers UpgradeRequest::headers() const
{
    Headers out;
    for (std::size_t i = 0; i < count(List::Headers); ++i)
        out.add(std::string(name(List::Headers, i)), std::string(value(List::Headers, i)));
    return out;
}

std::optional<std::string> UpgradeRequest::cookie(std::string_view name) const
{
    detail::NameValues cookies;
    for (std::size_t i = 0; i < count(List::Headers); ++i)
        if (iequals(this->name(List::Headers, i), "Cookie")) detail::parseCookies(value(List::Headers, i), cookies);
    return detail::firstValue(std::move(cookies), name);
}

std::string_view UpgradeRequest::origin() const { return header("Origin").value_or(""); }

std::vector<std::string_view> UpgradeRequest::strings(List list) const
{
    std::vector<std::string_view> out;
    out.reserve(count(list));
    for (std::size_t i = 0; i < count(list); ++i) out.push_back(name(list, i));
    return out;
}

std::vector<std::string_view> UpgradeRequest::subprotocols() const { return strings(List::Subprotocols); }

std::vector<std::string_view> UpgradeRequest::extensions() const { return strings(List::Extensions); }

bool UpgradeRequest::hasSubprotocol(std::string_view name) const
{
    for (std::size_t i = 0; i < count(List::Subprotocols); ++i)
        if (this->name(List::Subprotocols, i) == name) return true;
    return false;
}

bool UpgradeRequest::isSecure() const noexcept { return block_ && block_->secure; }

std::size_t UpgradeRequest::heapBytes() const noexcept { return block_ ? block_->bytes : 0; }

void UpgradeResponse::reject(int status, std::string message)
{
    status_ = status == 101 ? 403 : status;
    message_ = std::move(message);
}

}  // namespace wharf
