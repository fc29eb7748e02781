// Tests of the daemon's wrapper over tenants' segments (segment_guard.h) and of the
// quarantine it puts an arena in (ArenaRegistry::WithSegment, arena_quarantine.cc): each
// kind of fault ends the operation and quarantines the arena, a quarantined arena is not
// read again, reset and delete end it, and a lock timeout is lifted once the lock is free.
#include "server/core/segment_guard.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/core/arena_registry.h"
#include "shm/check.h"
#include "shm/untrusted.h"
#include "tests/support/temp_segment.h"

namespace shmpool::server {
namespace {

using std::chrono::milliseconds;
using Kind = shm::SegmentFault::Kind;

TEST(RunUntrusted, SoundOperationHasNoFault) {
  testing::TempSegment t(1 << 20);
  bool ran = false;
  EXPECT_FALSE(RunUntrusted(*t.segment(), milliseconds(100), [&] { ran = true; }).has_value());
  EXPECT_TRUE(ran);
}

TEST(RunUntrusted, FailedCheckIsCorrupt) {
  testing::TempSegment t(1 << 20);
  std::optional<QuarantineReason> q =
      RunUntrusted(*t.segment(), milliseconds(100), [] { SHMPOOL_CHECK(2 + 2 == 5); });
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->kind, Kind::kCorrupt);
  EXPECT_NE(q->message.find("2 + 2 == 5"), std::string::npos) << q->message;
  EXPECT_STREQ(FaultKindName(q->kind), "corrupt");
}

TEST(RunUntrusted, HeldLockIsALockTimeout) {
  testing::TempSegment t(1 << 20);
  shm::RobustMutex& m = t.segment()->header().heap.mutex;
  absl::Notification locked, done;
  std::thread holder([&] {
    m.Lock();
    locked.Notify();
    done.WaitForNotification();
    m.Unlock();
  });
  locked.WaitForNotification();
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<QuarantineReason> q =
      RunUntrusted(*t.segment(), milliseconds(50), [&] { m.Lock(); });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
  done.Notify();
  holder.join();
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->kind, Kind::kLockTimeout) << q->message;
}

TEST(RunUntrusted, TruncatedFileIsABusError) {
  shm::InstallBusGuard();
  testing::TempSegment t(1 << 20);
  ASSERT_EQ(truncate(t.path().c_str(), 4096), 0);
  const shm::Segment& seg = *t.segment();
  uint64_t sum = 0;
  std::optional<QuarantineReason> q = RunUntrusted(seg, milliseconds(100), [&] {
    for (uint32_t i = 0; i < seg.geometry().max_procs; ++i) sum += seg.proc(i).pid;
  });
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->kind, Kind::kBusError) << q->message;
  EXPECT_EQ(sum, 0u) << "the guard's zero pages";
}

TEST(RestoreTruncated, ExtendsACutSegmentBackAndSaysWhy) {
  testing::TempSegment t(1 << 20);
  const uint64_t total = t.segment()->sections().total;
  ASSERT_EQ(truncate(t.path().c_str(), 8192), 0);
  std::optional<QuarantineReason> q = RestoreTruncated(t.path());
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->kind, Kind::kBusError);
  EXPECT_NE(q->message.find("cut short to 8192 bytes"), std::string::npos) << q->message;
  EXPECT_EQ(std::filesystem::file_size(t.path()), total);
  EXPECT_TRUE(shm::Segment::Open(t.path()).ok());
  EXPECT_FALSE(RestoreTruncated(t.path()).has_value()) << "whole again";
}

TEST(RestoreTruncated, LeavesOtherFilesAlone) {
  testing::TempSegment t(1 << 20);
  const std::string junk = t.dir() + "/junk.seg";
  { std::ofstream(junk) << std::string(8192, 'x'); }
  EXPECT_FALSE(RestoreTruncated(junk).has_value());
  EXPECT_EQ(std::filesystem::file_size(junk), 8192u);
  std::filesystem::remove(junk);
}

// A registry over a private shm directory, with one arena "a".
class Quarantine : public ::testing::Test {
 protected:
  Quarantine() {
    char tmpl[] = "/dev/shm/shmpool-quarantine-XXXXXX";
    dir_ = mkdtemp(tmpl);
    registry_ =
        std::make_unique<ArenaRegistry>(dir_, Limits{.segment_lock_timeout_ms = 50}, &sessions_);
    EXPECT_TRUE(registry_->Create(ArenaSpec{.id = "a", .capacity = 1 << 20}).ok());
  }
  ~Quarantine() override {
    registry_.reset();
    std::filesystem::remove_all(dir_);
  }
  ArenaPtr A() { return *registry_->Get("a"); }

  std::string dir_;
  SessionRegistry sessions_{16};
  std::unique_ptr<ArenaRegistry> registry_;
};

TEST_F(Quarantine, FaultQuarantinesAndTheSegmentIsNotReadAgain) {
  absl::Status st = registry_->WithSegment(*A(), [](const shm::Segment&) {
    throw shm::SegmentFault(Kind::kCorrupt, "free list cycle");
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("quarantined (corrupt"), std::string::npos) << st;
  EXPECT_NE(st.message().find("free list cycle"), std::string::npos) << st;
  ASSERT_NE(A()->quarantine, nullptr);
  EXPECT_EQ(A()->quarantine->kind, Kind::kCorrupt);
  bool ran = false;
  st = registry_->WithSegment(*A(), [&](const shm::Segment&) { ran = true; });
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_FALSE(ran);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      registry_->ChangeCurrent("a", [](const ArenaRecord&) { return absl::OkStatus(); })));
  EXPECT_TRUE(absl::IsFailedPrecondition(registry_->UpdateQuota("a", 4096).status()));
}

TEST_F(Quarantine, AStaleRecordIsRefusedToo) {
  const ArenaPtr before = A();
  registry_->Quarantine(*before, {Kind::kBusError, "cut short", absl::Now()});
  bool ran = false;
  absl::Status st = registry_->WithSegment(*before, [&](const shm::Segment&) { ran = true; });
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_FALSE(ran);
}

TEST_F(Quarantine, ResetGivesAFreshTrustedGeneration) {
  registry_->Quarantine(*A(), {Kind::kCorrupt, "scribbled", absl::Now()});
  absl::StatusOr<ArenaPtr> fresh = registry_->Reset("a");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ((*fresh)->quarantine, nullptr);
  EXPECT_EQ((*fresh)->arena_generation(), 1u);
  EXPECT_TRUE((*fresh)->retired.empty()) << "the quarantined generation is dropped";
  EXPECT_TRUE(registry_->WithSegment(**fresh, [](const shm::Segment&) {}).ok());
}

TEST_F(Quarantine, DeleteEndsIt) {
  registry_->Quarantine(*A(), {Kind::kCorrupt, "scribbled", absl::Now()});
  EXPECT_TRUE(registry_->Delete("a").ok());
  EXPECT_TRUE(absl::IsNotFound(registry_->Get("a").status()));
}

TEST_F(Quarantine, LockTimeoutIsLiftedOnceTheLockIsFree) {
  shm::RobustMutex& m = A()->segment->header().heap.mutex;
  absl::Notification locked, release, released;
  std::thread holder([&] {
    m.Lock();
    locked.Notify();
    release.WaitForNotification();
    m.Unlock();
    released.Notify();
  });
  locked.WaitForNotification();
  absl::Status st = registry_->WithSegment(*A(), [&](const shm::Segment&) { m.Lock(); });
  EXPECT_NE(st.message().find("lock_timeout"), std::string::npos) << st;
  EXPECT_EQ(registry_->ProbeLocked(), 0) << "still held";
  ASSERT_NE(A()->quarantine, nullptr);
  release.Notify();
  released.WaitForNotification();
  EXPECT_EQ(registry_->ProbeLocked(), 1);
  EXPECT_EQ(A()->quarantine, nullptr);
  holder.join();
}

}  // namespace
}  // namespace shmpool::server
