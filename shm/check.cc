#include "shm/check.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "shm/untrusted.h"

namespace shmpool::shm {

void CheckFailed(const char* expr, const char* file, int line) {
  if (UntrustedScope::Active())
    throw SegmentFault(SegmentFault::Kind::kCorrupt, std::string("check failed: ") + expr + " (" +
                                                         file + ":" + std::to_string(line) + ")");
  std::fprintf(stderr, "shmpool: check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace shmpool::shm
