#include "server/core/arena_ops.h"

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"

namespace shmpool::server {
namespace {

using testing::Local;
using testing::Remote;
using testing::TempRegistry;

class ArenaOpsTest : public ::testing::Test {
 protected:
  TempRegistry r_;
  ArenaOps ops_{&r_.resolver};
  const PeerCredentials tenant_ = Local(1000, 100);
  const PeerCredentials stranger_ = Local(2000, 200);
};

TEST_F(ArenaOpsTest, ANonAdminCreatesAnArenaOfItsOwn) {
  absl::StatusOr<ArenaView> v = ops_.Create(tenant_, ArenaSpec{.id = "a", .capacity = 1 << 20});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->arena->uid, 1000u);
  EXPECT_EQ(v->arena->gid, 100u);
  EXPECT_EQ(v->live_clients, 0u);
  const absl::Status st =
      ops_.Create(tenant_, ArenaSpec{.id = "b", .capacity = 1 << 20, .owner = 2000}).status();
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  EXPECT_TRUE(absl::IsNotFound(r_.arenas->Get("b").status()));
}

TEST_F(ArenaOpsTest, OnlyTheTenantManagesItsArena) {
  ASSERT_NE(r_.Create("a", 1000, 100), nullptr);
  absl::Status st = ops_.Delete(stranger_, ArenaRef{"arenas/a"}).status();
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  st = ops_.Reset(stranger_, ArenaRef{"arenas/a"}).status();
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  st = ops_.Update(stranger_, QuotaUpdate{"arenas/a", 4096}).status();
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  EXPECT_TRUE(absl::IsPermissionDenied(ops_.Get(stranger_, ArenaRef{"arenas/a"}).status()));
  EXPECT_TRUE(ops_.Get(tenant_, ArenaRef{"arenas/a"}).ok());
  EXPECT_TRUE(r_.arenas->Get("a").ok()) << "still there";
  EXPECT_TRUE(ops_.Delete(tenant_, ArenaRef{"arenas/a"}).ok());
  EXPECT_TRUE(absl::IsNotFound(ops_.Delete(tenant_, ArenaRef{"arenas/a"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ops_.Delete(tenant_, ArenaRef{"a"}).status()));
}

TEST_F(ArenaOpsTest, UpdateWithoutAQuotaChangesNothing) {
  ASSERT_NE(r_.Create("a", 1000, 100), nullptr);
  absl::StatusOr<ArenaView> v = ops_.Update(tenant_, QuotaUpdate{"arenas/a", std::nullopt});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->arena->spec.quota, 0u);
  v = ops_.Update(tenant_, QuotaUpdate{"arenas/a", 1 << 16});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->arena->spec.quota, uint64_t{1} << 16);
}

TEST_F(ArenaOpsTest, ResetAnswersTheNextGeneration) {
  ASSERT_NE(r_.Create("a", 1000, 100), nullptr);
  absl::StatusOr<ArenaView> v = ops_.Reset(tenant_, ArenaRef{"arenas/a"});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->arena->arena_generation(), 1u);
}

TEST_F(ArenaOpsTest, ListIsTheCallersArenas) {
  ASSERT_NE(r_.Create("a", 1000, 100), nullptr);
  ASSERT_NE(r_.Create("b", 2000, 200), nullptr);
  absl::StatusOr<std::vector<ArenaView>> v = ops_.List(tenant_, AllArenas{});
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ((*v)[0].arena->spec.id, "a");
  EXPECT_TRUE(absl::IsUnauthenticated(ops_.List(Remote(), AllArenas{}).status()));
}

TEST_F(ArenaOpsTest, PurgeOfAllSkipsAQuarantinedArenaAndOfOneFails) {
  const ArenaPtr a = r_.Create("a", 1000, 100);
  ASSERT_NE(r_.Create("b", 1000, 100), nullptr);
  r_.arenas->Quarantine(*a, {shm::SegmentFault::Kind::kCorrupt, "scribbled", absl::Now()});
  absl::StatusOr<PurgeReport> all = ops_.Purge(tenant_, ArenaRef{""});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->arenas.size(), 1u);
  EXPECT_EQ(all->arenas[0].id, "b");
  const absl::Status st = ops_.Purge(tenant_, ArenaRef{"arenas/a"}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_TRUE(absl::IsPermissionDenied(ops_.Purge(stranger_, ArenaRef{"arenas/b"}).status()));
  absl::StatusOr<PurgeReport> none = ops_.Purge(stranger_, ArenaRef{"arenas/-"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->arenas.empty()) << "a stranger's all is none of these";
}

}  // namespace
}  // namespace shmpool::server
