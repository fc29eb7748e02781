#include "shm/stats.h"

#include <algorithm>

#include "shm/atomics.h"
#include "shm/page_heap.h"
#include "shm/pool.h"
#include "shm/slab_map.h"
#include "shm/transfer_ring.h"

namespace shmpool::shm {

CentralFree CentralFreeOf(const Segment& seg, uint32_t cls) {
  const ClassCentral& cc = seg.central(cls);
  const SizeClassInfo& info = Class(cls);
  const uint64_t free_blocks = LoadRelaxed(cc.xfree_in_slabs);
  const uint64_t parked_blocks = std::min(free_blocks, LoadRelaxed(cc.xparked_blocks));
  return {(free_blocks - parked_blocks) * info.size, parked_blocks * info.size,
          RingDepth(seg, cls) * info.batch * info.size};
}

ArenaStats CollectStats(const Segment& seg) {
  ArenaStats a;
  const Geometry& g = seg.geometry();
  std::vector<ClassStats> cs(kNumClasses);
  uint64_t parked_pages = 0;
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    const ClassCentral& cc = seg.central(c);
    cs[c].nmalloc = LoadRelaxed(cc.xnmalloc);
    cs[c].nfree = LoadRelaxed(cc.xnfree);
    cs[c].requested = LoadRelaxed(cc.xrequested);
  }
  for (uint32_t t = 0; t < g.max_thread_caches; ++t) {
    const uint32_t owner = LoadAcquire(seg.cache_owner(t));
    if (owner == kCacheNeverUsed) continue;  // may be unbacked: never read it
    if (owner != kCacheFree) ++a.thread_caches;
    const ThreadCache& tc = seg.cache(t);
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      const Bin& b = tc.bins[c];
      cs[c].nmalloc += b.nmalloc();
      cs[c].nfree += tc.nfree(c);
      cs[c].requested += LoadRelaxed(b.xrequested);
      cs[c].cached += tc.cached_bytes(c);
    }
  }
  const FillHistogram fill = SlabFillHistogram(seg);
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    ClassStats& s = cs[c];
    s.fill_deciles = fill[c];
    const ClassCentral& cc = seg.central(c);
    const SizeClassInfo& info = Class(c);
    s.cls = c;
    s.size = info.size;
    s.nslabs = LoadRelaxed(cc.xnslabs);
    s.active = s.nslabs * info.slab_pages * kPageSize;
    const CentralFree f = CentralFreeOf(seg, c);
    s.free_in_slabs = f.free_in_slabs;
    s.parked = f.parked;
    s.in_ring = f.in_ring;
    // Allocated is what the lists do not hold: exact when quiescent, and right after any
    // crash (the cumulative counters may have lost a dead process's last update).
    const uint64_t used =
        s.nslabs * info.blocks * info.size - LoadRelaxed(cc.xfree_in_slabs) * info.size;
    const uint64_t held = s.cached + s.in_ring;
    s.allocated = used > held ? used - held : 0;
    s.handed_out = s.nmalloc * info.size;
    a.allocated += s.allocated;
    a.active += s.active;
    a.cached += s.cached;
    a.in_ring += s.in_ring;
    a.free_in_slabs += s.free_in_slabs;
    a.parked += s.parked;
    parked_pages += LoadRelaxed(cc.xparked_pages);
    a.nmalloc += s.nmalloc;
    a.nfree += s.nfree;
    a.nslabs += s.nslabs;
    a.requested += s.requested;
    a.handed_out += s.handed_out;
    if (s.nmalloc || s.nslabs) a.classes.push_back(s);
  }
  const SegmentHeader& h = seg.header();
  const ArenaCounters& k = h.counters;
  a.large_allocated = LoadRelaxed(h.heap.xlarge_pages) << kPageShift;
  a.large_nmalloc = LoadRelaxed(k.xlarge_nmalloc);
  a.large_nfree = LoadRelaxed(k.xlarge_nfree);
  a.allocated += a.large_allocated;
  a.active += a.large_allocated;
  a.nmalloc += a.large_nmalloc;
  a.nfree += a.large_nfree;
  a.requested += LoadRelaxed(k.xlarge_requested);
  a.handed_out += LoadRelaxed(k.xlarge_handed_out);
  a.invalid_frees = LoadRelaxed(k.xinvalid_frees);
  a.double_frees = LoadRelaxed(k.xdouble_frees);
  a.failed_allocs = LoadRelaxed(k.xfailed_allocs);
  a.purge_count = LoadRelaxed(k.xpurge_count);
  for (size_t r = 0; r < a.purges_by_reason.size(); ++r)
    a.purges_by_reason[r] = LoadRelaxed(k.xpurges_by_reason[r]);
  a.purged_bytes = LoadRelaxed(k.xpurged_bytes);
  a.purge_ns = LoadRelaxed(k.xpurge_ns);
  for (size_t i = 0; i < kNumExportedCounters; ++i)
    a.exported[i] = LoadRelaxed(kExportedCounters[i].of(h));
  a.free_run_bytes = LoadRelaxed(h.heap.xfree_pages) << kPageShift;
  a.committed = CommittedBytes(seg);
  const uint64_t run_retained = LoadRelaxed(h.heap.xretained_pages) << kPageShift;
  a.retained = run_retained + (parked_pages << kPageShift);
  a.dirty = a.free_run_bytes - std::min(a.free_run_bytes, run_retained);
  a.reclaimable = a.cached + a.in_ring + a.free_in_slabs + a.parked;
  a.capacity = g.capacity;
  a.metadata = seg.sections().data;
  a.pool_bytes = PoolBytes(seg);
  a.resident = seg.ResidentBytes();
  for (uint32_t p = 0; p < g.max_procs; ++p)
    if (seg.proc(p).state() == ProcRecord::kLive) ++a.attached_procs;
  return a;
}

}  // namespace shmpool::shm
