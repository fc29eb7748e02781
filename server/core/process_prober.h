// ProcessProber: whether a process still runs, as the daemon's reclaim and live-client
// decisions ask it. KernelProber() asks the kernel (shm::ProcIdentity::Check: kill(pid, 0)
// and the start time in /proc/PID/stat); tests pass a prober that answers what the test
// says (fakes_test.h), so a dead-process verdict is tested with a process that is alive.
//
// Only kGone is a death: kUnknown is alive to every caller (shm/proc_identity.h).
#pragma once

#include <sys/types.h>

#include "shm/proc_identity.h"

namespace shmpool::server {

class ProcessProber {
 public:
  virtual ~ProcessProber() = default;
  // The process with this (pid, start time) identity.
  virtual shm::Liveness Check(const shm::ProcIdentity& id) const = 0;
  // Any process with this pid (kill(pid, 0): ESRCH is kGone).
  virtual shm::Liveness CheckPid(pid_t pid) const = 0;

  bool KnownGone(const shm::ProcIdentity& id) const { return Check(id) == shm::Liveness::kGone; }
  bool PidGone(pid_t pid) const { return CheckPid(pid) == shm::Liveness::kGone; }
};

// The kernel's answer; one instance for the daemon's life.
const ProcessProber& KernelProber();

}  // namespace shmpool::server
