// Boost.Interprocess's columns: managed_shared_memory for (a) (b) (c) (d), and
// cached_node_allocator for (d).
#include <cstdint>

#include "bench/src/boost_backend.h"
#include "bench/src/fail.h"
#include "bench/src/local_runner.h"
#include "bench/src/xproc_boost.h"

namespace shmpool::bench {

void RunBoostMsm(const RunOptions& o) {
  {
    BoostBackend b(uint64_t{64} << 20);
    void* p = b.Allocate(64);
    if (!b.Owns(p)) Fail("boost: allocate(64) is not in the segment");
    b.Free(p);
    PrintActive("boost_msm", "managed_shared_memory::allocate(64) returned a segment block");
    RunLocal(b, "boost_msm", o);
  }
  if (o.callgrind) return;
  for (const XprocSize& s : kXprocSizes)
    PrintResult(s.workload, "boost_msm", RunXproc<BoostMsmXproc>(s.bytes, o.counts));
}

void RunBoostCna(const RunOptions& o) {
  {
    using Allocator = BoostCnaXproc<256>::Allocator;
    BoostShmName name;
    bip::managed_shared_memory seg(bip::create_only, name.c_str(), 1 << 20);
    Allocator alloc(seg.get_segment_manager());
    auto p = alloc.allocate(1);
    if (!seg.belongs_to_segment(p.get())) Fail("cached_node_allocator: block outside segment");
    alloc.deallocate(p, 1);
    PrintActive("boost_cna", "cached_node_allocator::allocate(1) returned a segment block");
  }
  if (o.callgrind) return;
  PrintResult("d256", "boost_cna", RunXproc<BoostCnaXproc<256>>(256, o.counts));
  PrintResult("d2048", "boost_cna", RunXproc<BoostCnaXproc<2048>>(2048, o.counts));
}

}  // namespace shmpool::bench
