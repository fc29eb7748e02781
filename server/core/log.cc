#include "server/core/log.h"

#include <unistd.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shmpool::server {
namespace {

const char* LevelName(Level level) {
  switch (level) {
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

void AppendValue(std::string& out, absl::string_view v) {
  const bool plain = !v.empty() && v.find_first_of(" \"=\\\n\t") == absl::string_view::npos;
  if (plain) return absl::StrAppend(&out, v);
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

LogLine::LogLine(Level level, absl::string_view event) {
  absl::StrAppend(&line_,
                  "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                  " level=", LevelName(level), " event=", event);
}

LogLine& LogLine::Kv(absl::string_view key, const absl::AlphaNum& value) {
  absl::StrAppend(&line_, " ", key, "=");
  AppendValue(line_, value.Piece());
  return *this;
}

LogLine::~LogLine() {
  line_.push_back('\n');
  // One write(2): lines of concurrent threads never interleave.
  ssize_t unused = write(STDERR_FILENO, line_.data(), line_.size());
  (void)unused;
}

}  // namespace shmpool::server
