// shmpool's column: workloads (a) (b) (c) on one Heap, then (d) across two processes.
#include <cstdint>

#include "bench/src/fail.h"
#include "bench/src/local_runner.h"
#include "bench/src/shmpool_backend.h"
#include "bench/src/xproc_shmpool.h"

namespace shmpool::bench {

void RunShmpool(const RunOptions& o) {
  {
    ShmpoolBackend b(uint64_t{256} << 20);
    void* p = b.Allocate(64);
    if (p == nullptr || !b.Owns(p)) Fail("shmpool: Allocate(64) is not in the segment");
    b.Free(p);
    PrintActive("shmpool", "Allocate(64) returned a block inside segment " + b.path());
    RunLocal(b, "shmpool", o);
  }
  if (o.callgrind) return;
  for (const XprocSize& s : kXprocSizes)
    PrintResult(s.workload, "shmpool", RunXproc<ShmpoolXproc>(s.bytes, o.counts));
}

}  // namespace shmpool::bench
