// What every shmpoolctl command shares: how a usage error and a daemon's refusal are
// reported (exit codes of command.h), the deadline of each RPC (--timeout), and how an
// arena is named.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace shmpool::ctl {

inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

// A usage error: the message on stderr, exit 2.
int Usage(const std::string& message);
// The daemon's refusal: its code name and message on stderr (escaped: it may quote what a
// tenant named), exit 1. DEADLINE_EXCEEDED says that the daemon did not answer in time.
int Failed(const grpc::Status& st);
// --timeout: a duration ("10s", "500ms", "2m"), or a number of seconds; 0 waits forever.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text);
// The deadline of every RPC from now on (kDefaultTimeout until set; InfiniteDuration: none).
void SetTimeout(absl::Duration timeout);
absl::Duration Timeout();
// Gives an RPC its deadline.
void Prepare(grpc::ClientContext& ctx);
// NAME as typed (an arena id, or "arenas/ID") to a resource name.
std::string ArenaNameOf(const std::string& word);
// A resource name ("arenas/ID") to the arena id an operator types.
std::string ArenaIdOf(const std::string& name);

}  // namespace shmpool::ctl
