// Structured log lines on stderr, one event per line, key=value:
//
//   ts=2024-05-01T12:00:00.123Z level=info event=arena_created arena=default capacity=1073741824
//
// Values with spaces, quotes or '=' are double-quoted with escapes, so a line splits on
// spaces outside quotes. A line is written with one call, so lines of concurrent threads
// do not interleave.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace shmpool::server {

enum class Level { kInfo, kWarning, kError };

class LogLine {
 public:
  LogLine(Level level, absl::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Kv(absl::string_view key, const absl::AlphaNum& value);

 private:
  std::string line_;
};

inline LogLine LogInfo(absl::string_view event) { return LogLine(Level::kInfo, event); }
inline LogLine LogWarning(absl::string_view event) { return LogLine(Level::kWarning, event); }
inline LogLine LogError(absl::string_view event) { return LogLine(Level::kError, event); }

}  // namespace shmpool::server
