#include "ctl/rpc_common.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ctl/command.h"
#include "ctl/printable.h"
#include "proto/api/names.h"

namespace shmpool::ctl {
namespace {

absl::Duration timeout = kDefaultTimeout;

}  // namespace

int Usage(const std::string& message) {
  std::cerr << "shmpoolctl: " << message << "\n(see shmpoolctl --help)\n";
  return kExitUsage;
}

int Failed(const grpc::Status& st) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int code = st.error_code();
  std::cerr << "shmpoolctl: " << (code >= 0 && code <= 16 ? kNames[code] : "ERROR") << ": ";
  if (code == grpc::StatusCode::DEADLINE_EXCEEDED)
    std::cerr << "the daemon did not answer within " << absl::FormatDuration(timeout)
              << " (--timeout; 0 waits forever): ";
  std::cerr << Printable(st.error_message()) << "\n";
  return kExitFailed;
}

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds))
    d = absl::Seconds(seconds);
  else if (!absl::ParseDuration(text, &d))
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: not a duration (e.g. 10s, 500ms; 0 for none): ", text));
  if (d < absl::ZeroDuration())
    return absl::InvalidArgumentError(absl::StrCat("--timeout must not be negative: ", text));
  return d == absl::ZeroDuration() ? absl::InfiniteDuration() : d;
}

void SetTimeout(absl::Duration t) { timeout = t; }
absl::Duration Timeout() { return timeout; }

void Prepare(grpc::ClientContext& ctx) {
  if (timeout != absl::InfiniteDuration())
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

std::string ArenaNameOf(const std::string& word) {
  return word.rfind("arenas/", 0) == 0 ? word : api::ArenaName(word);
}

std::string ArenaIdOf(const std::string& name) {
  return name.rfind("arenas/", 0) == 0 ? name.substr(7) : name;
}

}  // namespace shmpool::ctl
