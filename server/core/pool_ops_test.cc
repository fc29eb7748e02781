#include "server/core/pool_ops.h"

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"

namespace shmpool::server {
namespace {

using testing::Local;
using testing::TempRegistry;

class PoolOpsTest : public ::testing::Test {
 protected:
  PoolOpsTest() { EXPECT_NE(r_.Create("a", 1000, 100), nullptr); }
  static PoolCreate Pool(const std::string& id) {
    return PoolCreate{.arena = "arenas/a",
                      .spec = shm::PoolSpec{.name = id, .object_size = 256, .count = 16}};
  }
  TempRegistry r_;
  PoolOps ops_{&r_.resolver};
  const PeerCredentials tenant_ = Local(1000, 100);
};

TEST_F(PoolOpsTest, CreateListDelete) {
  absl::StatusOr<PoolView> p = ops_.Create(tenant_, Pool("bufs"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->arena_id, "a");
  EXPECT_EQ(p->stats.name, "bufs");
  EXPECT_EQ(p->stats.count, 16u);
  absl::StatusOr<std::vector<PoolView>> list = ops_.List(tenant_, ArenaRef{"arenas/a"});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(ops_.Delete(tenant_, PoolRef{"arenas/a/pools/bufs"}).ok());
  list = ops_.List(tenant_, ArenaRef{""});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(PoolOpsTest, BadNamesAreInvalidArgument) {
  absl::Status st = ops_.Create(tenant_, Pool(".hidden")).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(st.message(),
            "pool id \".hidden\": 1 to 23 characters of [a-z0-9-_.], not starting with '.' or '-'");
  st = ops_.Create(tenant_, Pool("UPPER")).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  st = ops_.Delete(tenant_, PoolRef{"arenas/a/bufs"}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(st.message(), "\"arenas/a/bufs\" is not a pool name (arenas/ARENA/pools/POOL)");
}

TEST_F(PoolOpsTest, AStrangerMayNotCreateOrDeleteButTheArenaIsUnchanged) {
  const PeerCredentials stranger = Local(2000, 200);
  EXPECT_TRUE(absl::IsPermissionDenied(ops_.Create(stranger, Pool("bufs")).status()));
  ASSERT_TRUE(ops_.Create(tenant_, Pool("bufs")).ok());
  EXPECT_TRUE(
      absl::IsPermissionDenied(ops_.Delete(stranger, PoolRef{"arenas/a/pools/bufs"}).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(ops_.List(stranger, ArenaRef{"arenas/a"}).status()));
  absl::StatusOr<std::vector<PoolView>> list = ops_.List(tenant_, ArenaRef{"arenas/a"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(PoolOpsTest, ThePerUidPoolLimitHolds) {
  TempRegistry r(Limits{.max_pools_per_uid = 2});
  ASSERT_NE(r.Create("a", 1000, 100), nullptr);
  PoolOps ops(&r.resolver);
  ASSERT_TRUE(ops.Create(tenant_, Pool("p0")).ok());
  ASSERT_TRUE(ops.Create(tenant_, Pool("p1")).ok());
  const absl::Status st = ops.Create(tenant_, Pool("one-more")).status();
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
}

}  // namespace
}  // namespace shmpool::server
