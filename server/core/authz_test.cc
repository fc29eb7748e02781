#include "server/core/authz.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"

namespace shmpool::server {
namespace {

using testing::Local;
using testing::Remote;
using testing::TempRegistry;

TEST(Authz, AdminsAreRootTheDaemonsUidAndTheAdminGroup) {
  const Authz authz(/*daemon_uid=*/500, gid_t{900}, false);
  EXPECT_TRUE(authz.IsAdmin(Local(0, 0)));
  EXPECT_TRUE(authz.IsAdmin(Local(500, 1)));
  EXPECT_TRUE(authz.IsAdmin(Local(1000, 900)));
  EXPECT_FALSE(authz.IsAdmin(Local(1000, 100)));
  EXPECT_FALSE(authz.IsAdmin(Remote()));
}

TEST(Authz, ATenantIsTheOwnerOrAMemberOfASharedGroup) {
  TempRegistry r;
  const ArenaPtr a = r.Create("a", 1000, 100);  // 0660: shared with group 100
  ASSERT_NE(a, nullptr);
  for (ArenaAction act : {ArenaAction::kRead, ArenaAction::kAttach, ArenaAction::kManage}) {
    EXPECT_TRUE(r.authz.Check(Local(1000, 1), *a, act).ok());
    EXPECT_TRUE(r.authz.Check(Local(1001, 100), *a, act).ok());
    const absl::Status st = r.authz.Check(Local(1002, 101), *a, act);
    EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  }
  EXPECT_EQ(r.authz.Check(Local(1002, 101), *a, ArenaAction::kManage).message(),
            "uid 1002 (gid 101) may not manage arena \"a\": it belongs to uid 1000, group 100");
}

TEST(Authz, AnArenaNotSharedWithItsGroupIsTheOwnersOnly) {
  TempRegistry r;
  const ArenaPtr a = r.Create("a", 1000, 100);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(fchmod(a->segment->fd(), 0600), 0);
  const absl::Status st = r.authz.Check(Local(1001, 100), *a, ArenaAction::kRead);
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  EXPECT_NE(st.message().find("(not shared with the group)"), std::string::npos) << st;
}

TEST(Authz, RemotePeersReadOnlyWithTls) {
  TempRegistry r;
  const ArenaPtr a = r.Create("a", 1000, 100);
  ASSERT_NE(a, nullptr);
  const Authz tls(0, std::nullopt, true);
  EXPECT_TRUE(tls.Check(Remote(), *a, ArenaAction::kRead).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(tls.Check(Remote(), *a, ArenaAction::kAttach)));
  EXPECT_TRUE(absl::IsPermissionDenied(tls.Check(Remote(), *a, ArenaAction::kManage)));
  const Authz plain(0, std::nullopt, false);
  EXPECT_TRUE(absl::IsUnauthenticated(plain.Check(Remote(), *a, ArenaAction::kRead)));
  EXPECT_TRUE(absl::IsUnauthenticated(plain.Readable(Remote(), {a}).status()));
  // A Unix connection the PeerTable does not know is not a verified remote peer.
  PeerCredentials unknown{.address = "fd:9"};
  EXPECT_TRUE(absl::IsUnauthenticated(tls.Check(unknown, *a, ArenaAction::kRead)));
}

TEST(Authz, ReadableLeavesOutOtherTenantsArenas) {
  TempRegistry r;
  ASSERT_NE(r.Create("mine", 1000, 100), nullptr);
  ASSERT_NE(r.Create("theirs", 2000, 200), nullptr);
  absl::StatusOr<std::vector<ArenaPtr>> v = r.authz.Readable(Local(1000, 1), r.arenas->List());
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 1u);
  EXPECT_EQ(v->front()->spec.id, "mine");
  v = r.authz.Readable(Local(0, 0), r.arenas->List());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 2u);
}

TEST(Authz, CheckCreateGivesANonAdminsArenaToItAndRefusesOtherOwners) {
  const Authz authz(0, std::nullopt, false);
  ArenaSpec spec{.id = "a"};
  ASSERT_TRUE(authz.CheckCreate(Local(1000, 100), spec).ok());
  EXPECT_EQ(spec.owner, uid_t{1000});
  EXPECT_EQ(spec.group, gid_t{100});
  ArenaSpec other{.id = "b", .owner = 2000};
  const absl::Status st = authz.CheckCreate(Local(1000, 100), other);
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  ArenaSpec group{.id = "c", .group = 300};
  EXPECT_TRUE(absl::IsPermissionDenied(authz.CheckCreate(Local(1000, 100), group)));
  ArenaSpec admin{.id = "d", .owner = 2000};
  EXPECT_TRUE(authz.CheckCreate(Local(0, 0), admin).ok());
  EXPECT_EQ(admin.owner, uid_t{2000});
  EXPECT_TRUE(absl::IsUnauthenticated(authz.CheckCreate(Remote(), admin)));
  const Authz tls(0, std::nullopt, true);
  EXPECT_TRUE(absl::IsPermissionDenied(tls.CheckCreate(Remote(), admin)));
}

}  // namespace
}  // namespace shmpool::server
