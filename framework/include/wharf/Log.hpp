#pragma once
// Logging: level-checked, fmt-formatted, to a replaceable sink (default: stderr).

#include <fmt/format.h>

#include <functional>
#include <string_view>

namespace wharf::log {

enum class Level { Trace = 0, Debug, Info, Warn, Error, Off };

/// The sink receives each formatted line without a trailing newline, always one line of
/// valid UTF-8 without control characters: log lines carry text a peer chose (request
/// paths, close reasons, names), so before any sink sees a line, the default stderr one
/// included, every C0 control character and DEL in it is escaped (`\n`, `\r`, `\t`, else
/// `\x1b` style), every C1 control (U+0080-U+009F, which some terminals obey) becomes
/// `\u009b` style, and every byte that is not part of valid UTF-8 becomes `\x9b` style.
/// Valid UTF-8 text and backslashes pass unchanged (so a literal "\n" typed by a peer
/// reads the same as an escaped newline, but can never end the line).
/// Thread-safety: the sink may be called from any server thread at once.
using Sink = std::function<void(Level, std::string_view)>;

/// Replaces the sink (an empty function restores the stderr default). Call before start().
void setSink(Sink sink);
/// Messages below `level` are not formatted at all. Default: Info (WHARF_LOG=debug etc. overrides).
void setLevel(Level level) noexcept;
Level level() noexcept;
inline bool enabled(Level l) noexcept { return l >= level(); }

void vlog(Level level, fmt::string_view format, fmt::format_args args);

template <class... Args>
void trace(fmt::format_string<Args...> f, Args&&... args)
{ if (enabled(Level::Trace)) vlog(Level::Trace, f, fmt::make_format_args(args...)); }
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args)
{ if (enabled(Level::Debug)) vlog(Level::Debug, f, fmt::make_format_args(args...)); }
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args)
{ if (enabled(Level::Info)) vlog(Level::Info, f, fmt::make_format_args(args...)); }
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args)
{ if (enabled(Level::Warn)) vlog(Level::Warn, f, fmt::make_format_args(args...)); }
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args)
{ if (enabled(Level::Error)) vlog(Level::Error, f, fmt::make_format_args(args...)); }

}  // namespace wharf::log
