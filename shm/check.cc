#include "shm/check.h"

#include <cstdio>
#include <cstdlib>

namespace shmpool::shm {

void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "shmpool: check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace shmpool::shm
