// ProcIdentity: a process as the kernel knows it, (pid, start time), so that a recycled
// pid is never mistaken for the process that attached.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace shmpool::shm {

struct ProcIdentity {
  uint32_t pid = 0;
  uint64_t start_time = 0;  // clock ticks after boot (/proc/PID/stat field 22)

  static ProcIdentity Self();
  // The identity of `pid` now, or pid 0 when no such process exists.
  static ProcIdentity Of(pid_t pid);
  // True when the process that had this identity is still running.
  bool Alive() const;
};

}  // namespace shmpool::shm
