// ProcIdentity: a process as the kernel knows it, (pid, start time), so that a recycled
// pid is never mistaken for the process that attached.
//
// Whether a process runs has three answers. Only the kernel saying so (kill(pid, 0) fails
// with ESRCH, /proc/PID is ENOENT or ESRCH, or the pid now has another start time) means
// kGone; any other failure (EMFILE, ENOMEM, EACCES, a short read) is kUnknown, which every
// caller that could reclaim or count a process treats as alive: a live process judged dead
// would have its caches handed out again while it still uses them.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace shmpool::shm {

enum class Liveness { kAlive, kGone, kUnknown };

struct ProcIdentity {
  uint32_t pid = 0;
  uint64_t start_time = 0;  // clock ticks after boot (/proc/PID/stat field 22)

  // This process's identity; an error when /proc cannot be read (a record must not carry a
  // made-up start time).
  static absl::StatusOr<ProcIdentity> Self();
  // The identity of `pid` now: kAlive and *out filled in, kGone when no such process
  // exists, kUnknown when /proc/PID/stat could not be read or parsed.
  static Liveness Of(pid_t pid, ProcIdentity* out);
  // Whether the process that had this identity still runs. kill(pid, 0) answers "gone"
  // without a file descriptor; the start time then tells a reused pid apart.
  Liveness Check() const;
  // True only when the kernel says the process is gone (kUnknown is not gone).
  bool KnownGone() const { return Check() == Liveness::kGone; }
};

}  // namespace shmpool::shm
