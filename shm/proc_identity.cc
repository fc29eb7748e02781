#include "shm/proc_identity.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace shmpool::shm {

ProcIdentity ProcIdentity::Of(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return {};
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Field 2 (comm) may hold spaces and parentheses: parse after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return {};
  unsigned long long start = 0;
  // Fields 3..22 follow; starttime is the 20th of them.
  if (std::sscanf(
          p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
          &start) != 1)
    return {};
  return ProcIdentity{static_cast<uint32_t>(pid), start};
}

ProcIdentity ProcIdentity::Self() { return Of(getpid()); }

bool ProcIdentity::Alive() const {
  if (pid == 0) return false;
  const ProcIdentity now = Of(static_cast<pid_t>(pid));
  return now.pid == pid && now.start_time == start_time;
}

}  // namespace shmpool::shm
