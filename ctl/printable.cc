#include "ctl/printable.h"

#include "absl/strings/str_format.h"

namespace shmpool::ctl {
namespace {

bool Continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// Characters that are valid but change how the text around them is shown.
bool Reorders(char32_t cp) {
  return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

// The length of the printable UTF-8 character at the start of `s` (non-ASCII), or 0 when
// the bytes there are not one (malformed, overlong, a surrogate, a C1 control, ...).
size_t PrintableUtf8(std::string_view s) {
  const auto c0 = static_cast<unsigned char>(s[0]);
  size_t n = 0;
  char32_t cp = 0, min = 0;
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    n = 2, cp = c0 & 0x1f, min = 0xa0;
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    n = 3, cp = c0 & 0x0f, min = 0x800;
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    n = 4, cp = c0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!Continuation(c)) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || Reorders(cp)) return 0;
  return n;
}

std::string Escape(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if ((c >= 0x20 && c < 0x7f) || (c == '\n' && keep_newlines)) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t n = c >= 0x80 ? PrintableUtf8(s.substr(i)) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
      ++i;
    }
  }
  return out;
}

}  // namespace

std::string Printable(std::string_view s) { return Escape(s, false); }
std::string PrintableLines(std::string_view s) { return Escape(s, true); }

}  // namespace shmpool::ctl
