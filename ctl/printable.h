// Printable: a string from the daemon made safe for the operator's terminal. Client names,
// pool names and other strings a tenant sets reach shmpoolctl's tables and sentences; a raw
// ESC or BEL in them would move the cursor, clear the screen or retitle the window. Every
// byte that is not printable ASCII or part of a printable UTF-8 character is written as
// \xNN; so are the C1 controls (U+0080..U+009F) and the characters that reorder text
// (bidirectional overrides and isolates, zero-width marks); a backslash is doubled, so the
// escaped form reads back unambiguously. JSON output needs none of this: its encoder escapes
// control characters itself (\u001b).
#pragma once

#include <string>
#include <string_view>

namespace shmpool::ctl {

// Everything escaped, newlines and tabs too: for a table cell or a one-line message.
std::string Printable(std::string_view s);
// The same, but newlines are kept: for text of several lines (the doctor's report).
std::string PrintableLines(std::string_view s);

}  // namespace shmpool::ctl
