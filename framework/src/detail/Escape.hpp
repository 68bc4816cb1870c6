#pragma once
// Control characters made visible, for text that came from a peer (see wharf/Log.hpp).

#include <string>
#include <string_view>

namespace wharf::detail {

/// True when `text` holds nothing escapeControls would change: printable ASCII only.
bool isPlainText(std::string_view text) noexcept;

/// Appends `text` to `out` with every C0 control and DEL escaped (\n, \r, \t, else \xHH),
/// every C1 control (U+0080-U+009F) as \u00HH, and every byte that is not part of valid
/// UTF-8 as \xHH; valid UTF-8 otherwise passes unchanged. The result is one line of
/// valid UTF-8 that a terminal shows as text.
void appendEscaped(std::string& out, std::string_view text);

}  // namespace wharf::detail
