#include "server/core/reclaimer.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"
#include "shm/heap.h"
#include "shm/recovery.h"

namespace shmpool::server {
namespace {

using testing::FakeClock;
using testing::FakeProber;
using testing::TempRegistry;

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
  FakeProber prober_;
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

}  // namespace
}  // namespace shmpool::server
