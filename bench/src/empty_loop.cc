// The empty loop that callgrind subtracts from workload (a): PairLoop without the
// allocator (see callgrind_regions.h). Out of line, like PairLoop, so both pay the same
// call and the compiler cannot fold the loop away.
#include "bench/src/clock.h"
#include "bench/src/local_workloads.h"

namespace shmpool::bench {

void EmptyLoop(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) Escape(reinterpret_cast<void*>(i));
}

}  // namespace shmpool::bench
