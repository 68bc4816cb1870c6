#include "detail/Deflate.hpp"

#include <wharf/Http.hpp>

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace wharf::detail {
namespace {

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::vector<std::string_view> splitOutsideQuotes(std::string_view s, char sep)
{
    std::vector<std::string_view> parts;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"') quoted = !quoted;
        else if (s[i] == '\\' && quoted) ++i;
        else if (s[i] == sep && !quoted) {
            parts.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    parts.push_back(trim(s.substr(start)));
    return parts;
}

std::optional<int> parseWindowBits(std::string_view v)
{
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty() || v.size() > 2 || v[0] == '0') return std::nullopt;
    int bits = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        bits = bits * 10 + (c - '0');
    }
    if (bits < 8 || bits > 15) return std::nullopt;
    return bits;
}

namespace {

/// One permessage-deflate offer's parameters; nullopt when the offer must be declined.
std::optional<DeflateNegotiation> tryOffer(const std::vector<std::string_view>& params, const DeflateOptions& options)
{
    DeflateNegotiation n;
    n.params.serverMaxWindowBits = std::clamp(options.windowBits, 9, 15);
    n.params.memLevel = std::clamp(options.memLevel, 1, 9);
    n.params.threshold = options.threshold;
    bool seenServerNct = false, seenClientNct = false, seenServerBits = false, seenClientBits = false;
    std::optional<int> offeredServerBits;
    for (std::size_t i = 1; i < params.size(); ++i) {
        const auto p = params[i];
        const auto eq = p.find('=');
        const auto name = trim(p.substr(0, eq));
        const auto value = eq == std::string_view::npos ? std::optional<std::string_view>() : trim(p.substr(eq + 1));
        if (iequals(name, "server_no_context_takeover")) {
            if (seenServerNct || value) return std::nullopt;
            seenServerNct = true;
        } else if (iequals(name, "client_no_context_takeover")) {
            if (seenClientNct || value) return std::nullopt;
            seenClientNct = true;
        } else if (iequals(name, "server_max_window_bits")) {
            if (seenServerBits || !value) return std::nullopt;
            seenServerBits = true;
            offeredServerBits = parseWindowBits(*value);
            if (!offeredServerBits) return std::nullopt;
        } else if (iequals(name, "client_max_window_bits")) {
            if (seenClientBits) return std::nullopt;
            seenClientBits = true;
            if (value && !parseWindowBits(*value)) return std::nullopt;
        } else {
            return std::nullopt;  // unknown parameter: decline this offer
        }
    }
    // zlib's raw deflate cannot use an 8-bit window; we cannot honour such a limit.
    if (offeredServerBits) {
        if (*offeredServerBits < 9) return std::nullopt;
        n.params.serverMaxWindowBits = std::min(n.params.serverMaxWindowBits, *offeredServerBits);
    }
    n.params.serverNoContextTakeover = seenServerNct || options.serverNoContextTakeover;
    n.params.clientNoContextTakeover = options.clientNoContextTakeover;
    n.responseHeader = "permessage-deflate";
    if (n.params.serverNoContextTakeover) n.responseHeader += "; server_no_context_takeover";
    if (n.params.clientNoContextTakeover) n.responseHeader += "; client_no_context_takeover";
    // Only answer server_max_window_bits when offered (RFC 7692 7.1.2.1); a smaller window
    // of ours needs no announcement: the client's inflater copes with it.
    if (offeredServerBits) n.responseHeader += "; server_max_window_bits=" + std::to_string(n.params.serverMaxWindowBits);
    return n;
}

}  // namespace

std::optional<DeflateNegotiation> negotiateDeflate(const std::vector<std::string_view>& headerValues,
                                                   const DeflateOptions& options)
{
    if (!options.enabled) return std::nullopt;
    for (auto header : headerValues) {
        for (auto extension : splitOutsideQuotes(header, ',')) {
            const auto params = splitOutsideQuotes(extension, ';');
            if (params.empty() || !iequals(params[0], "permessage-deflate")) continue;
            if (auto n = tryOffer(params, options)) return n;
        }
    }
    return std::nullopt;
}

struct Deflater::Stream {
    z_stream z{};
};

Deflater::Deflater(const DeflateParams& params)
    : Deflater(params.serverMaxWindowBits, params.memLevel, params.serverNoContextTakeover)
{
}

Deflater::Deflater(int windowBits, int memLevel, bool resetAfterMessage)
    : z_(std::make_unique<Stream>()), resetAfterMessage_(resetAfterMessage)
{
    if (deflateInit2(&z_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -windowBits, memLevel, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::bad_alloc();
}

Deflater::~Deflater() { deflateEnd(&z_->z); }

void Deflater::reset() { deflateReset(&z_->z); }

bool Deflater::compress(std::string_view message, std::string& out)
{
    out.resize(deflateBound(&z_->z, message.size()) + 16);
    auto& z = z_->z;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
    z.avail_in = static_cast<uInt>(message.size());
    std::size_t produced = 0;
    for (;;) {
        z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        z.avail_out = static_cast<uInt>(out.size() - produced);
        const int rc = deflate(&z, Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
        produced = out.size() - z.avail_out;
        if (z.avail_out != 0) break;
        out.resize(out.size() * 2);
    }
    out.resize(produced);
    // RFC 7692 7.2.1: remove the 0x00 0x00 0xff 0xff that the sync flush ends with.
    if (out.size() >= 4 && std::memcmp(out.data() + out.size() - 4, "\x00\x00\xff\xff", 4) == 0)
        out.resize(out.size() - 4);
    if (resetAfterMessage_) deflateReset(&z);
    return true;
}

struct Inflater::Stream {
    z_stream z{};
};

Inflater::Inflater(bool resetAfterMessage) : z_(std::make_unique<Stream>()), resetAfterMessage_(resetAfterMessage)
{
    // A 15-bit window inflates what any client window (8..15) produced.
    if (inflateInit2(&z_->z, -15) != Z_OK) throw std::bad_alloc();
}

Inflater::~Inflater() { inflateEnd(&z_->z); }

Inflater::Result Inflater::inflate(std::string_view in, std::string& out, std::size_t limit, bool finish)
{
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    auto& z = z_->z;
    auto run = [&](const unsigned char* data, std::size_t size) -> Result {
        z.next_in = const_cast<Bytef*>(data);
        z.avail_in = static_cast<uInt>(size);
        while (z.avail_in > 0) {
            const std::size_t before = out.size();
            // Grow in bounded steps so a bomb is caught before it is held.
            const std::size_t room = std::min<std::size_t>(std::max<std::size_t>(size * 4, 4096), 256 * 1024);
            if (before >= limit + 1) return Result::TooBig;
            const std::size_t step = std::min(room, limit + 1 - before);
            out.resize(before + step);
            z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
            z.avail_out = static_cast<uInt>(step);
            const int rc = ::inflate(&z, Z_SYNC_FLUSH);
            out.resize(before + step - z.avail_out);
            if (out.size() > limit) return Result::TooBig;
            if (rc == Z_STREAM_END) {
                // A final block (BFINAL) ends the raw stream; later messages need a fresh one.
                inflateReset(&z);
                continue;
            }
            if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // needs more input
            if (rc != Z_OK && rc != Z_BUF_ERROR) return Result::Error;
        }
        return Result::Ok;
    };
    if (!in.empty()) {
        if (auto r = run(reinterpret_cast<const unsigned char*>(in.data()), in.size()); r != Result::Ok) return r;
    }
    if (finish) {
        if (auto r = run(tail, sizeof tail); r != Result::Ok) return r;
        // Drain whatever the flush marker released.
        for (;;) {
            const std::size_t before = out.size();
            if (before > limit) return Result::TooBig;
            const std::size_t step = std::min<std::size_t>(64 * 1024, limit + 1 - before);
            out.resize(before + step);
            z.next_in = nullptr;
            z.avail_in = 0;
            z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
            z.avail_out = static_cast<uInt>(step);
            const int rc = ::inflate(&z, Z_SYNC_FLUSH);
            out.resize(before + step - z.avail_out);
            if (out.size() > limit) return Result::TooBig;
            if (rc == Z_BUF_ERROR || z.avail_out != 0 || rc == Z_STREAM_END) break;
            if (rc != Z_OK) return Result::Error;
        }
        if (resetAfterMessage_) inflateReset(&z);
    }
    return Result::Ok;
}

}  // namespace wharf::detail
