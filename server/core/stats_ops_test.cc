#include "server/core/stats_ops.h"

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"
#include "shm/heap.h"

namespace shmpool::server {
namespace {

using testing::Local;

class StatsOpsTest : public testing::TwoTenants {
 protected:
  StatsOps ops_{&r_.resolver};
  const PeerCredentials tenant_ = Local(1000, 100);
};

TEST_F(StatsOpsTest, TargetsAreOneNamedArenaOrAllTheCallerMayRead) {
  absl::StatusOr<StatsTargets> t = ops_.Targets(tenant_, ArenaRef{"arenas/a"});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->one);
  ASSERT_EQ(t->arenas.size(), 1u);
  t = ops_.Targets(tenant_, ArenaRef{""});
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->one);
  ASSERT_EQ(t->arenas.size(), 1u);
  EXPECT_EQ(t->arenas[0]->spec.id, "a");
  EXPECT_TRUE(absl::IsPermissionDenied(ops_.Targets(tenant_, ArenaRef{"arenas/b"}).status()));
}

TEST_F(StatsOpsTest, TheSegmentMapCountsTheAllocatedPages) {
  absl::StatusOr<std::unique_ptr<shm::Heap>> h = shm::Heap::Attach((*r_.arenas->Get("a"))->segment);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_NE((*h)->Allocate(200 << 10), nullptr);  // a large run
  absl::StatusOr<SegmentMapView> m = ops_.SegmentMap(tenant_, MapRequest{"arenas/a", 16});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, "a");
  EXPECT_LE(m->cells.size(), 16u);
  uint64_t large = 0;
  for (const shm::MapCell& c : m->cells)
    large += c.pages[static_cast<size_t>(shm::RunState::kLarge)];
  EXPECT_GE(large, (200u << 10) / shm::kPageSize);
  const absl::Status st = ops_.SegmentMap(tenant_, MapRequest{"arenas/a", 65537}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(st.message(), "cells must be at most 65536");
}

TEST(WatchInterval, OneSecondUnsetAndAtLeastTenMilliseconds) {
  EXPECT_EQ(*WatchInterval(std::nullopt), absl::Seconds(1));
  EXPECT_EQ(*WatchInterval(absl::Milliseconds(10)), absl::Milliseconds(10));
  const absl::Status st = WatchInterval(absl::Milliseconds(9)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(st.message(), "interval must be at least 10ms (or unset for 1s)");
}

}  // namespace
}  // namespace shmpool::server
