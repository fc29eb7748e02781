// The no-allocator limit's column: workload (d) with a fixed pool of recycled buffers.
#include <cstdint>

#include "bench/src/runners.h"
#include "bench/src/xproc_limit.h"

namespace shmpool::bench {

void RunLimit(const RunOptions& o) {
  PrintActive("limit", "no allocator: a fixed pool of buffers recycled through a second ring");
  if (o.callgrind) return;
  for (const XprocSize& s : kXprocSizes)
    PrintResult(s.workload, "limit", RunXproc<LimitXproc>(s.bytes, o.counts));
}

}  // namespace shmpool::bench
