// The tenant's quota (TenantState in layout.h): committed bytes never pass it, malloc
// returns nullptr at the limit, refusals are counted, raising the quota online lets the
// same Heap allocate again, another arena is not affected, and pool runs count too.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/heap.h"
#include "shm/page_heap.h"
#include "shm/pool.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

void SetQuota(const Segment& seg, uint64_t bytes) {
  StoreRelaxed(seg.header().tenant.xquota_bytes, bytes);
}

// Allocates `size`-byte blocks until nullptr; returns them.
std::vector<void*> Fill(Heap& heap, size_t size, size_t max = 1 << 20) {
  std::vector<void*> out;
  while (out.size() < max) {
    void* p = heap.Allocate(size);
    if (p == nullptr) break;
    out.push_back(p);
  }
  return out;
}

TEST(Quota, LargeAllocationsStopAtTheQuota) {
  TempSegment ts(64 << 20);
  SetQuota(*ts.segment(), 1 << 20);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> blocks = Fill(*heap, 64 << 10);
  EXPECT_EQ(blocks.size(), 16u);  // 16 x 64 KiB = 1 MiB exactly
  EXPECT_LE(CommittedBytes(*ts.segment()), uint64_t{1} << 20);
  EXPECT_GE(LoadRelaxed(ts.segment()->header().tenant.xquota_refusals), 1u);
  heap->Free(blocks.back());
  blocks.pop_back();
  void* again = heap->Allocate(64 << 10);  // room again after a free
  EXPECT_NE(again, nullptr);
  blocks.push_back(again);
  for (void* p : blocks) heap->Free(p);
  EXPECT_EQ(CommittedBytes(*ts.segment()), 0u);
}

TEST(Quota, SmallAllocationsStopAndRaisingTheQuotaResumesOnline) {
  TempSegment ts(64 << 20);
  SetQuota(*ts.segment(), 256 << 10);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> blocks = Fill(*heap, 64);
  ASSERT_FALSE(blocks.empty());
  EXPECT_LE(CommittedBytes(*ts.segment()), uint64_t{256} << 10);
  EXPECT_GT(CommittedBytes(*ts.segment()), uint64_t{200} << 10);
  EXPECT_EQ(heap->Allocate(64), nullptr);
  SetQuota(*ts.segment(), 1 << 20);  // grow: the same attachment allocates again
  std::vector<void*> more = Fill(*heap, 64);
  EXPECT_GT(more.size(), blocks.size());
  EXPECT_LE(CommittedBytes(*ts.segment()), uint64_t{1} << 20);
  SetQuota(*ts.segment(), 0);  // no quota
  void* big = heap->Allocate(4 << 20);
  EXPECT_NE(big, nullptr);
  heap->Free(big);
  for (void* p : blocks) heap->Free(p);
  for (void* p : more) heap->Free(p);
  heap->FlushThreadCache();
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST(Quota, OtherArenasAreNotAffected) {
  TempSegment a(16 << 20), b(16 << 20);
  SetQuota(*a.segment(), 64 << 10);
  auto ha = *Heap::Attach(a.segment());
  auto hb = *Heap::Attach(b.segment());
  EXPECT_EQ(ha->Allocate(1 << 20), nullptr);
  void* p = hb->Allocate(1 << 20);
  EXPECT_NE(p, nullptr);
  hb->Free(p);
}

TEST(Quota, PoolRunsCount) {
  TempSegment ts(16 << 20);
  SetQuota(*ts.segment(), 1 << 20);
  PoolSpec spec{.name = "big", .object_size = 2048, .count = 1024};
  EXPECT_EQ(CreatePool(*ts.segment(), spec).status().code(), absl::StatusCode::kResourceExhausted);
  spec.count = 256;
  ASSERT_TRUE(CreatePool(*ts.segment(), spec).ok());
  EXPECT_GE(CommittedBytes(*ts.segment()), uint64_t{512} << 10);
}

// What the stats report for the quota is what it limits: when an allocation is refused,
// committed bytes are at the quota while allocated bytes may be far below it (slabs hold
// free blocks too), and the refusal is counted among the exported counters.
TEST(Quota, StatsShowCommittedBytesAndRefusalsAtTheLimit) {
  TempSegment ts(64 << 20);
  SetQuota(*ts.segment(), 1 << 20);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> blocks = Fill(*heap, 48);
  for (size_t i = 0; i < blocks.size(); i += 2) heap->Free(blocks[i]);  // half the blocks free
  std::vector<void*> large = Fill(*heap, 64 << 10);
  const ArenaStats s = CollectStats(*ts.segment());
  EXPECT_EQ(s.committed, CommittedBytes(*ts.segment()));
  EXPECT_GT(s.committed + (64 << 10), uint64_t{1} << 20) << "a 64 KiB run no longer fits";
  EXPECT_LT(s.allocated, s.committed * 3 / 4) << "allocated is not what the quota limits";
  uint64_t refusals = 0;
  for (size_t i = 0; i < kNumExportedCounters; ++i)
    if (std::string(kExportedCounters[i].field) == "quota_refusals") refusals = s.exported[i];
  EXPECT_GE(refusals, 1u);
  EXPECT_EQ(refusals, LoadRelaxed(ts.segment()->header().tenant.xquota_refusals));
  for (size_t i = 1; i < blocks.size(); i += 2) heap->Free(blocks[i]);
  for (void* p : large) heap->Free(p);
}

}  // namespace
}  // namespace shmpool::shm
