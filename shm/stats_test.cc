// The ratios of ArenaStats (stats.h), each defined once: undefined (empty) where the
// denominator is zero, never a number that reads as "perfect" or "all wasted".
#include "shm/stats.h"

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

TEST(StatsRatios, UndefinedWhileNothingIsAllocated) {
  TempSegment ts(16 << 20);
  const ArenaStats fresh = CollectStats(*ts.segment());
  EXPECT_GT(fresh.resident, 0u) << "the header is resident";
  EXPECT_FALSE(fresh.rss_ratio().has_value());
  EXPECT_FALSE(fresh.external_fragmentation().has_value());
  EXPECT_FALSE(fresh.internal_fragmentation().has_value());

  auto heap = *Heap::Attach(ts.segment());
  void* p = heap->Allocate(100);
  const double size = Class(ClassOf(100)).size;
  const ArenaStats one = CollectStats(*ts.segment());
  ASSERT_TRUE(one.rss_ratio().has_value());
  EXPECT_DOUBLE_EQ(*one.rss_ratio(), double(one.resident) / double(one.allocated));
  ASSERT_TRUE(one.external_fragmentation().has_value());
  EXPECT_DOUBLE_EQ(*one.external_fragmentation(), 1.0 - double(one.allocated) / one.active);
  ASSERT_TRUE(one.internal_fragmentation().has_value());
  EXPECT_NEAR(*one.internal_fragmentation(), 1.0 - 100.0 / size, 1e-9);

  heap->Free(p);
  const ArenaStats after = CollectStats(*ts.segment());
  EXPECT_EQ(after.allocated, 0u);
  EXPECT_GT(after.active, 0u) << "the slab stays, its block in the thread cache";
  EXPECT_FALSE(after.external_fragmentation().has_value()) << "idle, not fragmented";
  EXPECT_FALSE(after.rss_ratio().has_value());
  EXPECT_TRUE(after.internal_fragmentation().has_value()) << "over every allocation so far";
}

TEST(StatsRatios, SameDefinitionPerClass) {
  EXPECT_FALSE(ExternalFragmentation(0, 65536).has_value());
  EXPECT_FALSE(ExternalFragmentation(0, 0).has_value());
  EXPECT_DOUBLE_EQ(*ExternalFragmentation(16384, 65536), 0.75);
  EXPECT_FALSE(InternalFragmentation(0, 0).has_value());
  EXPECT_DOUBLE_EQ(*InternalFragmentation(90, 120), 0.25);
}

}  // namespace
}  // namespace shmpool::shm
