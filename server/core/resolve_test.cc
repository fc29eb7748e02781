#include "server/core/resolve.h"

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"

namespace shmpool::server {
namespace {

using testing::Local;
using testing::Remote;

using ResolveTest = testing::TwoTenants;

TEST_F(ResolveTest, ChecksInOrderNameThenArenaThenCaller) {
  const PeerCredentials stranger = Local(3000, 300);
  absl::StatusOr<ArenaPtr> a = r_.resolver.Resolve(stranger, "a", ArenaAction::kRead);
  EXPECT_TRUE(absl::IsInvalidArgument(a.status())) << a.status();
  a = r_.resolver.Resolve(stranger, "arenas/-", ArenaAction::kRead);
  EXPECT_TRUE(absl::IsInvalidArgument(a.status())) << "\"all\" is not one arena";
  a = r_.resolver.Resolve(stranger, "arenas/nope", ArenaAction::kRead);
  EXPECT_TRUE(absl::IsNotFound(a.status())) << a.status();
  EXPECT_EQ(a.status().message(), "arena \"nope\" does not exist");
  a = r_.resolver.Resolve(stranger, "arenas/a", ArenaAction::kRead);
  EXPECT_TRUE(absl::IsPermissionDenied(a.status())) << a.status();
  a = r_.resolver.Resolve(Remote(), "arenas/a", ArenaAction::kRead);
  EXPECT_TRUE(absl::IsUnauthenticated(a.status())) << a.status();
}

TEST_F(ResolveTest, TheTenantGetsItsArena) {
  for (ArenaAction act : {ArenaAction::kRead, ArenaAction::kAttach, ArenaAction::kManage}) {
    absl::StatusOr<ArenaPtr> a = r_.resolver.Resolve(Local(1000, 1), "arenas/a", act);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->spec.id, "a");
  }
}

TEST_F(ResolveTest, CallerComesFromThePeerTable) {
  r_.peers.Record(21, testing::kNoSuchPid, 1000, 100);
  const PeerCredentials c = r_.resolver.Caller("fd:21");
  EXPECT_TRUE(c.local);
  EXPECT_EQ(c.uid, 1000u);
  EXPECT_TRUE(r_.resolver.Resolve(c, "arenas/a", ArenaAction::kManage).ok());
  EXPECT_FALSE(r_.resolver.Caller("fd:22").local);
}

TEST_F(ResolveTest, AllIsWhatTheCallerMayDo) {
  absl::StatusOr<std::vector<ArenaPtr>> v =
      r_.resolver.ResolveAll(Local(1000, 1), "", ArenaAction::kRead);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ(v->front()->spec.id, "a");
  v = r_.resolver.ResolveAll(Local(2000, 1), "arenas/-", ArenaAction::kManage);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ(v->front()->spec.id, "b");
  v = r_.resolver.ResolveAll(Local(0, 0), "", ArenaAction::kManage);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 2u);
  // A name is one arena, refused as Resolve refuses it.
  v = r_.resolver.ResolveAll(Local(1000, 1), "arenas/b", ArenaAction::kRead);
  EXPECT_TRUE(absl::IsPermissionDenied(v.status())) << v.status();
  v = r_.resolver.ResolveAll(Remote(), "", ArenaAction::kManage);
  EXPECT_TRUE(absl::IsUnauthenticated(v.status())) << v.status();
}

TEST_F(ResolveTest, ChangeRunsOnlyForACallerAllowedOnTheCurrentGeneration) {
  int runs = 0;
  auto change = [&](const ArenaRecord& a) {
    ++runs;
    EXPECT_EQ(a.spec.id, "a");
    return absl::OkStatus();
  };
  EXPECT_TRUE(absl::IsPermissionDenied(
      r_.resolver.Change(Local(2000, 1), "a", ArenaAction::kManage, change)));
  EXPECT_EQ(runs, 0);
  EXPECT_TRUE(absl::IsNotFound(r_.resolver.Change(Local(0, 0), "z", ArenaAction::kManage, change)));
  EXPECT_TRUE(r_.resolver.Change(Local(1000, 1), "a", ArenaAction::kManage, change).ok());
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace shmpool::server
