#include "proto/api/size.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace shmpool::api {

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  const absl::string_view number = s.substr(0, digits);
  const std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(digits)));
  int shift = -1;
  if (unit.empty() || unit == "b") shift = 0;
  if (unit == "k" || unit == "kib") shift = 10;
  if (unit == "m" || unit == "mib") shift = 20;
  if (unit == "g" || unit == "gib") shift = 30;
  if (unit == "t" || unit == "tib") shift = 40;
  uint64_t n = 0;
  if (number.empty() || shift < 0 || !absl::SimpleAtoi(number, &n))
    return absl::InvalidArgumentError(absl::StrFormat(
        "bad size \"%s\": expected a whole number with an optional unit B, KiB, MiB, GiB or "
        "TiB",
        text));
  if (shift > 0 && n > (~uint64_t{0} >> shift))
    return absl::InvalidArgumentError(absl::StrFormat("size \"%s\" does not fit 64 bits", text));
  return n << shift;
}

std::string FormatSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (u < 6 && bytes >= (uint64_t{1024} << (10 * u))) ++u;
  if (u == 0) return absl::StrFormat("%d B", bytes);
  const uint64_t unit = uint64_t{1} << (10 * u);
  if (bytes % unit == 0) return absl::StrFormat("%d %s", bytes / unit, kUnits[u]);
  return absl::StrFormat("%.1f %s", static_cast<double>(bytes) / unit, kUnits[u]);
}

}  // namespace shmpool::api
