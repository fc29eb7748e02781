#include "shm/proc_identity.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace shmpool::shm {
namespace {

// The kernel's answers that mean "no such process" (ESRCH: the process was reaped while
// its /proc directory was open).
bool NoSuchProcess(int err) { return err == ENOENT || err == ESRCH; }

// Reads /proc/PID/stat into buf (NUL-terminated). Returns the Liveness the read tells.
Liveness ReadStat(pid_t pid, char* buf, size_t size) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NoSuchProcess(errno) ? Liveness::kGone : Liveness::kUnknown;
  ssize_t n;
  do {
    n = read(fd, buf, size - 1);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n < 0) return NoSuchProcess(err) ? Liveness::kGone : Liveness::kUnknown;
  buf[n] = '\0';
  return Liveness::kAlive;
}

}  // namespace

Liveness ProcIdentity::Of(pid_t pid, ProcIdentity* out) {
  char buf[1024];
  if (const Liveness l = ReadStat(pid, buf, sizeof(buf)); l != Liveness::kAlive) return l;
  // Field 2 (comm) may hold spaces and parentheses: parse after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return Liveness::kUnknown;
  unsigned long long start = 0;
  // Fields 3..22 follow; starttime is the 20th of them.
  if (std::sscanf(
          p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
          &start) != 1)
    return Liveness::kUnknown;
  *out = ProcIdentity{static_cast<uint32_t>(pid), start};
  return Liveness::kAlive;
}

absl::StatusOr<ProcIdentity> ProcIdentity::Self() {
  ProcIdentity self;
  if (Of(getpid(), &self) != Liveness::kAlive)
    return absl::UnavailableError(
        absl::StrFormat("cannot read or parse /proc/%d/stat (no file descriptor left?)",
                        static_cast<int>(getpid())));
  return self;
}

Liveness ProcIdentity::Check() const {
  if (pid == 0) return Liveness::kGone;  // no process has pid 0: an empty identity
  const pid_t p = static_cast<pid_t>(pid);
  // EPERM: a process with that pid exists (another user's).
  if (kill(p, 0) != 0 && errno == ESRCH) return Liveness::kGone;
  ProcIdentity now;
  const Liveness l = Of(p, &now);
  if (l != Liveness::kAlive) return l;
  return now.start_time == start_time ? Liveness::kAlive : Liveness::kGone;
}

}  // namespace shmpool::shm
