#include <wharf/Log.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace wharf::log {
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
    const std::string_view text(line.data(), line.size());
    std::lock_guard lock(sinkMutex);
    if (currentSink) {
        currentSink(l, text);
        return;
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    fmt::print(stderr, "{}.{:03} wharf {:5} {}\n", now / 1000, now % 1000, levelName(l), text);
}

}  // namespace wharf::log
