#include "server/core/session_ops.h"

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"

namespace shmpool::server {
namespace {

using testing::Local;
using testing::TempRegistry;

class SessionOpsTest : public ::testing::Test {
 protected:
  SessionOpsTest() { EXPECT_NE(r_.Create("a", 1000, 100), nullptr); }
  TempRegistry r_;
  SessionOps ops_{&r_.resolver, &r_.sessions};
  const PeerCredentials tenant_ = Local(1000, 100, 777);
};

TEST_F(SessionOpsTest, AttachBeginsASessionAndOpenMakesItLive) {
  absl::StatusOr<Attached> a = ops_.Attach(tenant_, AttachRequest{"arenas/a", "worker"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->arena->spec.id, "a");
  EXPECT_EQ(a->session.peer.pid, 777);
  EXPECT_EQ(a->session.generation, a->arena->generation);
  absl::StatusOr<SessionInfo> s =
      ops_.Open(tenant_, StreamOpen{"sessions/" + std::to_string(a->session.id), 2});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state, SessionInfo::kLive);
  EXPECT_EQ(s->proc_index, 2);
}

TEST_F(SessionOpsTest, AStrangerMayNotAttach) {
  const absl::Status st = ops_.Attach(Local(2000, 200), AttachRequest{"arenas/a", ""}).status();
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  EXPECT_NE(st.message().find("may not attach to arena \"a\""), std::string::npos) << st;
  EXPECT_TRUE(r_.sessions.List("").empty());
}

TEST_F(SessionOpsTest, AQuarantinedArenaRefusesAttach) {
  r_.arenas->Quarantine(**r_.arenas->Get("a"),
                        {shm::SegmentFault::Kind::kCorrupt, "scribbled", absl::Now()});
  const absl::Status st = ops_.Attach(tenant_, AttachRequest{"arenas/a", ""}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_TRUE(r_.sessions.List("").empty());
}

TEST_F(SessionOpsTest, AStreamForAnArenaResetSinceTheAttachIsRefusedAndTheSessionEnds) {
  absl::StatusOr<Attached> a = ops_.Attach(tenant_, AttachRequest{"arenas/a", ""});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(r_.arenas->Reset("a").ok());
  const absl::Status st =
      ops_.Open(tenant_, StreamOpen{"sessions/" + std::to_string(a->session.id), 0}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("was deleted or reset after session"), std::string::npos) << st;
  EXPECT_TRUE(r_.sessions.List("a").empty()) << "the session was ended";
  EXPECT_TRUE(absl::IsInvalidArgument(ops_.Open(tenant_, StreamOpen{"sess/1", 0}).status()));
}

}  // namespace
}  // namespace shmpool::server
