#include "server/core/session_registry.h"

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"

namespace shmpool::server {
namespace {

using testing::FakeClock;
using testing::FakeProber;
using testing::Local;

class SessionRegistryTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  FakeProber prober_;
  SessionRegistry sessions_{3, clock_, prober_};
  const PeerCredentials client_ = Local(1000, 100, 111);
};

TEST_F(SessionRegistryTest, ASessionAttachesThenGoesLiveThenEnds) {
  absl::StatusOr<SessionInfo> s = sessions_.Begin("a", 7, "worker", client_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state, SessionInfo::kAttaching);
  EXPECT_EQ(s->generation, 7u);
  EXPECT_EQ(s->attach_time, clock_.Now());
  EXPECT_EQ(sessions_.CountAttaching("a"), 1u);
  absl::StatusOr<SessionInfo> live = sessions_.Open(s->id, client_, 3);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->state, SessionInfo::kLive);
  EXPECT_EQ(live->proc_index, 3);
  EXPECT_EQ(sessions_.CountAttaching("a"), 0u);
  EXPECT_TRUE(absl::IsNotFound(sessions_.Open(s->id, client_, 3).status())) << "one stream";
  sessions_.End(s->id);
  EXPECT_TRUE(sessions_.List("").empty());
}

TEST_F(SessionRegistryTest, IdsAreNeverReused) {
  const uint64_t first = sessions_.Begin("a", 1, "", client_)->id;
  sessions_.End(first);
  EXPECT_GT(sessions_.Begin("a", 1, "", client_)->id, first);
}

TEST_F(SessionRegistryTest, AnotherProcessMayNotOpenTheSession) {
  absl::StatusOr<SessionInfo> s = sessions_.Begin("a", 1, "", client_);
  ASSERT_TRUE(s.ok());
  const absl::Status st = sessions_.Open(s->id, Local(1000, 100, 222), 0).status();
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
}

TEST_F(SessionRegistryTest, MaxSessionsIsResourceExhausted) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sessions_.Begin("a", 1, "", client_).ok());
  const absl::Status st = sessions_.Begin("a", 1, "", client_).status();
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
}

TEST_F(SessionRegistryTest, AnAttachNotOpenedWithinTheGraceIsDropped) {
  ASSERT_TRUE(sessions_.Begin("a", 1, "", client_).ok());
  clock_.Advance(kAttachGrace - absl::Seconds(1));
  EXPECT_EQ(sessions_.List("a").size(), 1u);
  EXPECT_EQ(sessions_.CountAttaching("a"), 1u);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(sessions_.List("a").empty());
  EXPECT_EQ(sessions_.CountAttaching("a"), 0u);
  // The dropped session no longer counts against max_sessions.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(sessions_.Begin("a", 1, "", client_).ok());
}

TEST_F(SessionRegistryTest, AnAttachingProcessThatExitedIsNoLiveClient) {
  ASSERT_TRUE(sessions_.Begin("a", 1, "", client_).ok());
  prober_.Set(client_.pid, shm::Liveness::kUnknown);
  EXPECT_EQ(sessions_.CountAttaching("a"), 1u) << "unknown is alive";
  prober_.Set(client_.pid, shm::Liveness::kGone);
  EXPECT_EQ(sessions_.CountAttaching("a"), 0u);
  EXPECT_EQ(sessions_.CountAttaching("b"), 0u);
}

}  // namespace
}  // namespace shmpool::server
