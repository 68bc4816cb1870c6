#include <wharf/Log.hpp>

#include "detail/Escape.hpp"
#include "detail/Utf8.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

namespace wharf {

namespace detail {

bool isPlainText(std::string_view text) noexcept
{
    for (const unsigned char c : text)
        if (c < 0x20 || c >= 0x7f) return false;
    return true;
}

void appendEscaped(std::string& out, std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    auto escapeByte = [&](unsigned char c, std::string_view prefix) {
        out += prefix;
        out += hex[c >> 4];
        out += hex[c & 0xf];
    };
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
            ++i;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out += '\\';
            out += c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            ++i;
        } else if (c < 0x80) {
            escapeByte(c, "\\x");  // the other C0 controls (ESC, NUL, ...) and DEL
            ++i;
        } else {
            // n: the length of the UTF-8 sequence that starts here, when it is valid.
            Utf8Validator utf8;
            std::size_t n = 0;
            while (i + n < text.size() && utf8.feed(text.substr(i + n, 1))) {
                ++n;
                if (utf8.complete()) break;
            }
            if (n == 0 || !utf8.complete()) {
                escapeByte(c, "\\x");  // not UTF-8: escaped a byte at a time
                ++i;
            } else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
                escapeByte(static_cast<unsigned char>(text[i + 1]), "\\u00");  // C1: U+0080-U+009F
                i += 2;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
        }
    }
}

}  // namespace detail

namespace log {
namespace {

Level levelFromEnvironment() noexcept
{
    const char* v = std::getenv("WHARF_LOG");
    if (!v) return Level::Info;
    const std::string_view s(v);
    if (s == "trace") return Level::Trace;
    if (s == "debug") return Level::Debug;
    if (s == "warn") return Level::Warn;
    if (s == "error") return Level::Error;
    if (s == "off") return Level::Off;
    return Level::Info;
}

std::atomic<Level> currentLevel{levelFromEnvironment()};
std::mutex sinkMutex;
Sink currentSink;

constexpr std::string_view levelName(Level l) noexcept
{
    switch (l) {
    case Level::Trace: return "TRACE";
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO";
    case Level::Warn: return "WARN";
    case Level::Error: return "ERROR";
    case Level::Off: break;
    }
    return "";
}

}  // namespace

void setSink(Sink sink)
{
    std::lock_guard lock(sinkMutex);
    currentSink = std::move(sink);
}

void setLevel(Level l) noexcept { currentLevel.store(l, std::memory_order_relaxed); }
Level level() noexcept { return currentLevel.load(std::memory_order_relaxed); }

void vlog(Level l, fmt::string_view format, fmt::format_args args)
{
    fmt::memory_buffer line;
    fmt::vformat_to(std::back_inserter(line), format, args);
    std::string_view text(line.data(), line.size());
    // Log lines carry peer text (paths, close reasons, names): escaped here, once for every
    // sink, so no peer can start a line of its own or send a terminal escape sequence.
    std::string escaped;
    if (!detail::isPlainText(text)) {
        detail::appendEscaped(escaped, text);
        text = escaped;
    }
    std::lock_guard lock(sinkMutex);
    if (currentSink) {
        currentSink(l, text);
        return;
    }
    // ISO 8601 in UTC with milliseconds: readable, sortable, and the same on every host.
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    fmt::print(stderr, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z wharf {:5} {}\n", utc.tm_year + 1900, utc.tm_mon + 1,
               utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms, levelName(l), text);
}

}  // namespace log
}  // namespace wharf
