#include "server/core/reclaimer.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"
#include "shm/heap.h"
#include "shm/recovery.h"

namespace shmpool::server {
namespace {

using testing::FakeClock;
using testing::FakeProber;
using testing::TempRegistry;

// A FakeProber that counts the identity checks asked of it (the kill and /proc reads the
// kernel prober would make).
class CountingProber final : public ProcessProber {
 public:
  shm::Liveness Check(const shm::ProcIdentity& id) const override {
    checks_.fetch_add(1);
    return verdicts_.Check(id);
  }
  shm::Liveness CheckPid(pid_t pid) const override { return verdicts_.CheckPid(pid); }
  void Set(pid_t pid, shm::Liveness l) { verdicts_.Set(pid, l); }
  int TakeChecks() const { return checks_.exchange(0); }

 private:
  FakeProber verdicts_;
  mutable std::atomic<int> checks_{0};
};

// An arena whose segment holds the live process record of a child that attached,
// allocated and exited without detaching: the kernel says it is gone.
class ReclaimerTest : public ::testing::Test {
 protected:
  ReclaimerTest() {
    arena_ = r_.Create("a", 0, 0);
    EXPECT_NE(arena_, nullptr);
    child_ = fork();
    if (child_ == 0) {
      absl::StatusOr<std::unique_ptr<shm::Heap>> h =
          shm::Heap::Attach(arena_->segment, {.name = "doomed"});
      if (!h.ok() || (*h)->Allocate(64) == nullptr) _exit(1);
      _exit(0);  // no detach: the record stays live
    }
    int status = 0;
    EXPECT_EQ(waitpid(child_, &status, 0), child_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  // The record of the child, as the kernel judges it (without reclaiming).
  bool KernelSaysDead() const {
    for (uint32_t i = 0; i < arena_->segment->geometry().max_procs; ++i)
      if (arena_->segment->proc(i).pid == static_cast<uint32_t>(child_))
        return shm::ProcessIsDead(*arena_->segment, i);
    return false;
  }

  TempRegistry r_;
  ArenaPtr arena_;
  pid_t child_ = 0;
  CountingProber prober_;
  FakeClock clock_;
  Reclaimer reclaimer_{r_.arenas.get(), absl::Seconds(1), prober_, clock_};
};

TEST_F(ReclaimerTest, NoReclaimWhileTheProberSaysAlive) {
  ASSERT_TRUE(KernelSaysDead());
  EXPECT_EQ(reclaimer_.Audit(), 0);
  prober_.Set(child_, shm::Liveness::kUnknown);
  EXPECT_EQ(reclaimer_.Audit(), 0) << "unknown is alive";
  EXPECT_TRUE(reclaimer_.DeadClients("").empty());
  EXPECT_TRUE(KernelSaysDead()) << "the record is untouched";
}

TEST_F(ReclaimerTest, AGoneVerdictReclaimsOnceAndIsRemembered) {
  prober_.Set(child_, shm::Liveness::kGone);
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(reclaimer_.Audit(), 1);
  EXPECT_FALSE(KernelSaysDead()) << "the record is no longer live";
  EXPECT_EQ(reclaimer_.Audit(), 0);
  const std::vector<DeadClient> dead = reclaimer_.DeadClients("a");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].pid, static_cast<uint32_t>(child_));
  EXPECT_EQ(dead[0].name, "doomed");
  EXPECT_EQ(dead[0].how, "audit");
  EXPECT_EQ(dead[0].reclaimed_at, clock_.Now());
  EXPECT_EQ(dead[0].allocated_bytes, 64);
  EXPECT_TRUE(reclaimer_.DeadClients("b").empty());
}

TEST_F(ReclaimerTest, AQuarantinedArenaIsNotAudited) {
  prober_.Set(child_, shm::Liveness::kGone);
  r_.arenas->Quarantine(*arena_, {shm::SegmentFault::Kind::kCorrupt, "scribbled", clock_.Now()});
  EXPECT_EQ(reclaimer_.Audit(), 0);
  EXPECT_TRUE(KernelSaysDead());
}

// Clients whose sessions went LIVE are watched through pidfds: the audit does not probe
// them every second, only the records no pidfd covers (here the child that mapped the
// segment directly), so its probes do not grow with the clients attached.
TEST_F(ReclaimerTest, TheAuditProbesOnlyRecordsNoPidfdWatches) {
  constexpr int kWatched = 8;
  std::vector<std::unique_ptr<shm::Heap>> heaps;
  for (int i = 0; i < kWatched; ++i) {
    absl::StatusOr<std::unique_ptr<shm::Heap>> h =
        shm::Heap::Attach(arena_->segment, {.name = "watched"});
    ASSERT_TRUE(h.ok()) << h.status();
    SessionInfo s;
    s.id = static_cast<uint64_t>(i + 1);
    s.arena_id = "a";
    s.peer = testing::Local(getuid(), getgid(), getpid());
    s.state = SessionInfo::kLive;
    s.proc_index = static_cast<int32_t>((*h)->proc_index());
    reclaimer_.Watch(s);
    heaps.push_back(*std::move(h));
  }
  prober_.TakeChecks();
  EXPECT_EQ(reclaimer_.Audit(), 0);
  EXPECT_EQ(prober_.TakeChecks(), 1) << "probed: the unwatched child's record only";
  // A watched record detached and claimed again is another incarnation: probed again.
  const uint32_t index = heaps.back()->proc_index();
  heaps.pop_back();
  absl::StatusOr<std::unique_ptr<shm::Heap>> again =
      shm::Heap::Attach(arena_->segment, {.name = "again"});
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ((*again)->proc_index(), index) << "the freed record is claimed again";
  EXPECT_EQ(reclaimer_.Audit(), 0);
  EXPECT_EQ(prober_.TakeChecks(), 2) << "the child's record and the new incarnation";
}

}  // namespace
}  // namespace shmpool::server
