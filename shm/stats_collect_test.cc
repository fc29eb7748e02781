// CollectStats and CentralFreeOf (stats.h) against what a test did to a segment: each
// figure of a fresh segment, of live, cached and large blocks, of blocks in the transfer
// ring and after a purge, and the counters of refused frees, failed allocations and
// purges; CentralFreeOf says what CollectStats says per class.
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/stats.h"
#include "shm/transfer_ring.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

const ClassStats* StatsOf(const ArenaStats& a, uint32_t cls) {
  for (const ClassStats& c : a.classes)
    if (c.cls == cls) return &c;
  return nullptr;
}

void ExpectCentralFreeAgrees(const Segment& seg, const ArenaStats& a) {
  for (const ClassStats& c : a.classes) {
    const CentralFree f = CentralFreeOf(seg, c.cls);
    EXPECT_EQ(f.free_in_slabs, c.free_in_slabs) << c.cls;
    EXPECT_EQ(f.parked, c.parked) << c.cls;
    EXPECT_EQ(f.in_ring, c.in_ring) << c.cls;
  }
}

TEST(CollectStats, AFreshSegment) {
  TempSegment ts(4 << 20);
  const Segment& seg = *ts.segment();
  const ArenaStats a = CollectStats(seg);
  EXPECT_EQ(a.capacity, 4u << 20);
  EXPECT_EQ(a.metadata, seg.sections().data);
  EXPECT_GT(a.resident, 0u) << "the header is written";
  EXPECT_EQ(a.allocated + a.active + a.cached + a.in_ring + a.free_in_slabs + a.parked, 0u);
  EXPECT_EQ(a.nmalloc + a.nfree + a.nslabs + a.requested + a.handed_out, 0u);
  EXPECT_EQ(a.attached_procs + a.thread_caches, 0u);
  EXPECT_TRUE(a.classes.empty());
}

TEST(CollectStats, LiveCachedAndLargeBlocks) {
  TempSegment ts(4 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  const uint32_t cls = ClassOf(64);
  const SizeClassInfo& info = Class(cls);
  std::vector<void*> small;
  for (int i = 0; i < 10; ++i) small.push_back(heap->Allocate(60));
  void* large = heap->Allocate(40000);  // 10 pages
  ASSERT_NE(large, nullptr);

  const ArenaStats a = CollectStats(seg);
  EXPECT_EQ(a.large_allocated, 10 * kPageSize);
  EXPECT_EQ(a.allocated, 10 * 64 + 10 * kPageSize);
  EXPECT_EQ(a.active, info.slab_pages * kPageSize + 10 * kPageSize);
  EXPECT_EQ(a.cached, (info.batch - 10) * 64u) << "the rest of the refilled batch";
  EXPECT_EQ(a.free_in_slabs, (info.blocks - info.batch) * 64u);
  EXPECT_EQ(a.reclaimable, a.cached + a.in_ring + a.free_in_slabs + a.parked);
  EXPECT_EQ(a.nmalloc, 11u);
  EXPECT_EQ(a.nfree, 0u);
  EXPECT_EQ(a.requested, 10 * 60u + 40000);
  EXPECT_EQ(a.attached_procs, 1u);
  EXPECT_EQ(a.thread_caches, 1u);
  const ClassStats* c = StatsOf(a, cls);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->size, 64u);
  EXPECT_EQ(c->allocated, 640u);
  EXPECT_EQ(c->nslabs, 1u);
  EXPECT_EQ(c->handed_out, 640u);
  EXPECT_EQ(c->requested, 600u);
  ExpectCentralFreeAgrees(seg, a);

  for (void* p : small) heap->Free(p);
  heap->Free(large);
  heap->FlushThreadCache();
  const ArenaStats b = CollectStats(seg);
  EXPECT_EQ(b.allocated, 0u);
  EXPECT_EQ(b.cached, 0u);
  EXPECT_EQ(b.active, 0u) << "the slab went back with its last block";
  EXPECT_EQ(b.nfree, 11u);
  EXPECT_EQ(b.large_nfree, 1u);
}

TEST(CollectStats, BlocksInTheRingAndAfterAPurge) {
  TempSegment ts(8 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  const uint32_t cls = ClassOf(1024);
  const SizeClassInfo& info = Class(cls);
  std::vector<void*> blocks;
  for (uint32_t i = 0; i < 4 * info.batch; ++i) blocks.push_back(heap->Allocate(1024));
  for (void* p : blocks) heap->Free(p);  // full lists go to the spare, then to the ring
  const ArenaStats a = CollectStats(seg);
  const ClassStats* c = StatsOf(a, cls);
  ASSERT_NE(c, nullptr);
  EXPECT_GT(c->in_ring, 0u);
  EXPECT_EQ(c->in_ring, RingDepth(seg, cls) * info.batch * info.size);
  EXPECT_EQ(c->allocated, 0u);
  EXPECT_EQ(c->cached + c->in_ring + c->free_in_slabs, c->nslabs * info.blocks * info.size);
  ExpectCentralFreeAgrees(seg, a);

  Purge(seg, PurgeReason::kPressure);
  const ArenaStats b = CollectStats(seg);
  EXPECT_EQ(b.in_ring, 0u) << "purge drains the rings";
  EXPECT_EQ(b.purge_count, 1u);
  EXPECT_EQ(b.purges_by_reason[static_cast<uint32_t>(PurgeReason::kPressure)], 1u);
  EXPECT_GT(b.purged_bytes, 0u);
  EXPECT_EQ(b.reclaimable, b.cached + b.in_ring + b.free_in_slabs + b.parked);
  ExpectCentralFreeAgrees(seg, b);
}

TEST(CollectStats, RefusedFreesAndFailedAllocations) {
  TempSegment ts(4 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  void* p = heap->Allocate(64);
  heap->Free(p);
  heap->Free(p);                                            // double
  heap->Free(static_cast<char*>(heap->Allocate(64)) + 16);  // not a block start
  EXPECT_EQ(heap->Allocate(64 << 20), nullptr);             // more than the capacity
  const ArenaStats a = CollectStats(seg);
  EXPECT_EQ(a.double_frees, 1u);
  EXPECT_EQ(a.invalid_frees, 1u);
  EXPECT_EQ(a.failed_allocs, 1u);
}

}  // namespace
}  // namespace shmpool::shm
