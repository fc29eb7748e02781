// The daemon's one way into a tenant's segment (server/README.md, "Untrusted segments").
//
// Everything in a segment, and its file's length, is written by the arena's tenant, whom
// the daemon does not trust. RunUntrusted runs an operation over one segment inside an
// shm::UntrustedScope: a failing SHMPOOL_CHECK ends it with SegmentFault(kCorrupt) instead
// of aborting the daemon, a lock in the segment held past the deadline ends it with
// kLockTimeout, and a SIGBUS (the file cut short) leaves the mapping reading zeros with
// Segment::Faulted() set, reported here as kBusError. Whichever happened becomes the
// arena's QuarantineReason (ArenaRegistry::WithSegment quarantines the arena with it).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shm/segment.h"
#include "shm/untrusted.h"

namespace shmpool::server {

// Why the daemon stopped trusting an arena's segment, and since when. A kLockTimeout is
// lifted once the lock is free (ArenaRegistry::ProbeLocked); the others last until the
// arena is reset or deleted.
struct QuarantineReason {
  shm::SegmentFault::Kind kind = shm::SegmentFault::Kind::kCorrupt;
  std::string message;
  absl::Time since;
};

// "corrupt", "lock_timeout", "bus_error".
const char* FaultKindName(shm::SegmentFault::Kind kind);

// FAILED_PRECONDITION: arena `id` is quarantined, and why.
absl::Status QuarantinedError(absl::string_view id, const QuarantineReason& q);

// Runs `op` (which reads or changes `seg`) in an UntrustedScope of `lock_deadline`.
// Returns the fault that ended it or that it met: a SegmentFault thrown by `op`, or
// `seg.Faulted()` afterwards. nullopt: `op` ran to its end over a sound mapping.
std::optional<QuarantineReason> RunUntrusted(const shm::Segment& seg,
                                             std::chrono::milliseconds lock_deadline,
                                             absl::FunctionRef<void()> op);

}  // namespace shmpool::server
