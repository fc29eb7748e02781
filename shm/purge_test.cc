// Purge against crashes: a purger's ring steps are named in the segment, so recovery of a
// dead client sees a live purger's claim, and a dead purger's step is finished like a dead
// client's. Each window is built with the ring's test hook in the real code paths:
//   - A client killed after it stored its ring position, before its CAS; a purger wins the
//     CAS for that position, and right then the dead client is reclaimed. The reclaim must
//     leave the cell to the purger, and the batch goes home once.
//   - A purger killed at each point of its pop (before its CAS, between its CAS and its
//     release, after it): the next purge, or the daemon's audit (ReclaimDeadPurgers),
//     finishes its step, also when the repairer itself is killed after any of its stores;
//     the ring then wraps past that cell, and no block is lost or reachable twice.
//   - A dead client and a dead purger that named one cell, repaired in either order.
//   - Two purges at once, one stopped mid-pop: each holds a record of its own; with every
//     record held a purge leaves the rings alone.
#include "shm/purge.h"
#include "shm/atomics.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/recovery.h"
#include "shm/slab_layer.h"
#include "shm/transfer_ring.h"
#include "shm/validate.h"
#include "tests/crash/allocated_blocks.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

constexpr size_t kSize = 30000;  // batches of 2 blocks
const uint32_t kCls = ClassOf(kSize);
constexpr uint32_t kClient = 1;  // the dead client's process record (the test is 0)

Geometry SmallGeometry() { return {.max_procs = 4, .max_thread_caches = 8, .ring_slots = 8}; }

// Frees 2 batches + 1 block through `heap`: its bin keeps one batch as its spare and pushes
// the other to the ring, which then holds exactly one.
void PushOneBatch(Heap& heap) {
  std::vector<void*> blocks;
  for (uint32_t i = 0; i < 2 * Class(kCls).batch + 1; ++i) blocks.push_back(heap.Allocate(kSize));
  for (void* p : blocks) heap.Free(p);
  ASSERT_EQ(RingDepth(heap.segment(), kCls), 1u);
}

// Forks a child that runs `body` with the ring hook set to `hook`, then exits 0.
template <typename Body>
pid_t ForkWithRingHook(void (*hook)(bool, RingPoint), Body body) {
  const pid_t pid = fork();
  if (pid == 0) {
    SetRingHookForTesting(hook);
    body();
    _exit(0);
  }
  return pid;
}

// The child's fate: "exited 0", "killed by signal 9", ...
std::string Fate(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return "not waited for";
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "exited " + std::to_string(WEXITSTATUS(status));
}

// Attaches a client (record kClient) that dies in its first refill's pop, after it stored
// its position and before its CAS.
void KillClientBeforeItsCas(const TempSegment& ts) {
  const pid_t pid = ForkWithRingHook(
      [](bool push, RingPoint p) {
        if (!push && p == RingPoint::kPositionStored) raise(SIGKILL);
      },
      [&ts] {
        auto seg = Segment::Open(ts.path());
        if (!seg.ok()) _exit(2);
        auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*seg)));
        if (!heap.ok() || (*heap)->proc_index() != kClient) _exit(3);
        (*heap)->Allocate(kSize);
        _exit(4);  // the pop did not reach its position
      });
  ASSERT_EQ(Fate(pid), "killed by signal 9");
  const Segment& seg = *ts.segment();
  uint32_t cache = 0;
  while (LoadAcquire(seg.cache_owner(cache)) != CacheOwnerOf(kClient)) ++cache;
  const Transit& t = seg.cache(cache).transit;
  ASSERT_EQ(LoadRelaxed(t.xop), uint32_t{Transit::kFromRing});
  ASSERT_EQ(LoadRelaxed(t.xpos), LoadRelaxed(seg.central(kCls).xdeq) + 1);
  ASSERT_TRUE(ProcessIsDead(seg, kClient));
}

// Shared with the purger children (an anonymous shared mapping).
struct Shared {
  std::atomic<int> window_reclaim;  // -1 not run; else 0 ok, 1 unavailable, 2 another error
};
Shared* shared = nullptr;
const Segment* purger_seg = nullptr;  // in a purger child

// Forks a purger: a child that maps the segment at `path` and purges it, with the ring hook
// set to `hook`.
pid_t ForkPurger(const std::string& path, void (*hook)(bool, RingPoint)) {
  return ForkWithRingHook(hook, [&path] {
    auto child_seg = Segment::Open(path);
    if (!child_seg.ok()) _exit(2);
    purger_seg = child_seg->get();
    Purge(*purger_seg);
  });
}

// A segment whose ring holds one batch, pushed through this process's cache (record 0).
struct OneBatchInTheRing {
  OneBatchInTheRing() : heap(Heap::Attach(ts.segment()).value()) { PushOneBatch(*heap); }
  const Segment& seg() const { return *ts.segment(); }
  TempSegment ts{8 << 20, SmallGeometry()};
  std::unique_ptr<Heap> heap;
};

// Every block is home once: Validate is clean, and with every cache flushed and the rings
// drained no block is allocated.
void ExpectEveryBlockHomeOnce(const Segment& seg, Heap& heap) {
  const ValidationReport v = Validate(seg);
  ASSERT_TRUE(v.ok()) << v.ToString();
  heap.FlushThreadCache();
  Purge(seg);
  const ValidationReport after = Validate(seg);
  EXPECT_TRUE(after.ok()) << after.ToString();
  EXPECT_EQ(crash::AllocatedBlocks(seg).size(), 0u) << "blocks lost";
}

// Pushes and pops a batch 3 times round the ring: every push must find its cell free, and
// every pop a batch (the one pushed, or one the ring held before: it keeps as many).
void ExpectRingWrapsAround(const Segment& seg) {
  Transit t{};
  uint64_t batch = 0;
  ASSERT_EQ(TakeBlocks(seg, kCls, Class(kCls).batch, t, &batch), Class(kCls).batch);
  const uint64_t turns = 3 * seg.geometry().ring_slots;
  for (uint64_t i = 0; i < turns; ++i) {
    ASSERT_TRUE(RingPush(seg, kCls, batch, t))
        << "the ring is full at position " << LoadRelaxed(seg.central(kCls).xenq);
    batch = RingPop(seg, kCls, t);
    ASSERT_NE(batch, 0u);
  }
  ReturnBlocks(seg, kCls, batch, t);
}

TEST(Purge, AReclaimLeavesACellThatALivePurgerClaimed) {
  shared = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(shared, MAP_FAILED);
  shared->window_reclaim = -1;
  OneBatchInTheRing ring;
  const Segment& seg = ring.seg();
  KillClientBeforeItsCas(ring.ts);
  // The purger wins the CAS for the position the dead client named; the dead client is
  // reclaimed before the purger goes on.
  const pid_t purger = ForkPurger(ring.ts.path(), [](bool push, RingPoint p) {
    if (push || p != RingPoint::kClaimed || shared->window_reclaim.load() != -1) return;
    const absl::StatusOr<ReclaimReport> r =
        ReclaimProcess(*purger_seg, kClient, LoadAcquire(purger_seg->proc(kClient).xword));
    shared->window_reclaim = r.ok() ? 0 : absl::IsUnavailable(r.status()) ? 1 : 2;
  });
  EXPECT_EQ(Fate(purger), "exited 0") << "the purger died (a block it returned was home)";
  EXPECT_EQ(shared->window_reclaim.load(), 1) << "the reclaim took the cell the purger claimed";
  absl::StatusOr<ReclaimReport> r =
      ReclaimProcess(seg, kClient, LoadAcquire(seg.proc(kClient).xword));
  EXPECT_TRUE(r.ok() || absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_EQ(RingDepth(seg, kCls), 0u);
  ExpectEveryBlockHomeOnce(seg, *ring.heap);
  munmap(shared, sizeof(Shared));
}

// A segment whose ring held one batch, and a purger killed in its pop of that batch at
// `point` (before its CAS, between its CAS and its release, or after it).
class DeadPurgerSegment : public OneBatchInTheRing {
 public:
  explicit DeadPurgerSegment(RingPoint point) {
    die_at = point;
    fate_ = Fate(ForkPurger(ts.path(), [](bool push, RingPoint p) {
      if (!push && p == die_at) raise(SIGKILL);
    }));
  }

  // The ring wraps past the dead purger's cell, and every block is home once.
  void ExpectFinished() {
    ExpectRingWrapsAround(seg());
    ExpectEveryBlockHomeOnce(seg(), *heap);
  }

  const std::string& purger_fate() const { return fate_; }

 private:
  static inline RingPoint die_at;
  std::string fate_;
};

class DeadPurger : public ::testing::TestWithParam<RingPoint> {};

TEST_P(DeadPurger, TheNextPurgeFinishesItsStep) {
  DeadPurgerSegment dead(GetParam());
  ASSERT_EQ(dead.purger_fate(), "killed by signal 9");
  Purge(dead.seg());
  dead.ExpectFinished();
}

TEST_P(DeadPurger, TheAuditFinishesItsStep) {
  DeadPurgerSegment dead(GetParam());
  ASSERT_EQ(dead.purger_fate(), "killed by signal 9");
  EXPECT_FALSE(Validate(dead.seg()).ok()) << "a dead purger's step in transit goes unseen";
  const absl::StatusOr<uint32_t> freed = ReclaimDeadPurgers(dead.seg());
  ASSERT_TRUE(freed.ok()) << freed.status();
  EXPECT_EQ(*freed, 1u);
  for (const PurgerRecord& rec : dead.seg().header().purgers)
    EXPECT_EQ(LoadRelaxed(rec.xowner), 0u);
  dead.ExpectFinished();
}

int steps_left = 0;  // in a repairer child: the steps it takes before it dies

// The repairer killed after each of its stores in turn (a fresh dead purger for each
// trial); the next repair resumes it exactly.
TEST_P(DeadPurger, ARepairerKilledAtAnyStepIsResumed) {
  int step = 0;
  for (bool finished = false; !finished; ++step) {
    ASSERT_LT(step, 100) << "the repairer never finished";
    DeadPurgerSegment dead(GetParam());
    ASSERT_EQ(dead.purger_fate(), "killed by signal 9");
    steps_left = step;
    const pid_t repairer = fork();
    if (repairer == 0) {
      auto child_seg = Segment::Open(dead.ts.path());
      if (!child_seg.ok()) _exit(2);
      SetReclaimStepHookForTesting([] {
        if (steps_left-- == 0) raise(SIGKILL);
      });
      _exit(ReclaimDeadPurgers(**child_seg).ok() ? 0 : 3);
    }
    const std::string fate = Fate(repairer);
    finished = fate == "exited 0";
    ASSERT_TRUE(finished || fate == "killed by signal 9") << "step " << step << ": " << fate;
    const absl::StatusOr<uint32_t> freed = ReclaimDeadPurgers(dead.seg());
    ASSERT_TRUE(freed.ok()) << "step " << step << ": " << freed.status();
    dead.ExpectFinished();
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(step, 3);
  std::printf("the repairer was killed at each of its %d steps\n", step - 1);
}

std::string PointName(const ::testing::TestParamInfo<RingPoint>& point) {
  switch (point.param) {
    case RingPoint::kPositionStored:
      return "BeforeItsCas";
    case RingPoint::kClaimed:
      return "BeforeItsOpStore";
    case RingPoint::kRecorded:
      return "BeforeItsRelease";
    case RingPoint::kDone:
      return "AfterItsRelease";
  }
  return "?";
}

INSTANTIATE_TEST_SUITE_P(InItsPop, DeadPurger,
                         ::testing::Values(RingPoint::kPositionStored, RingPoint::kClaimed,
                                           RingPoint::kRecorded, RingPoint::kDone),
                         PointName);

// Both the dead client and a dead purger named the cell (the client before its CAS, the
// purger after its CAS won): whichever is repaired first, the batch goes home once.
class DeadClientAndPurger : public ::testing::TestWithParam<bool> {};

TEST_P(DeadClientAndPurger, OnOneCellReturnItsBatchOnce) {
  const bool client_first = GetParam();
  OneBatchInTheRing ring;
  const Segment& seg = ring.seg();
  KillClientBeforeItsCas(ring.ts);
  ASSERT_EQ(Fate(ForkPurger(ring.ts.path(),
                            [](bool push, RingPoint p) {
                              if (!push && p == RingPoint::kClaimed) raise(SIGKILL);
                            })),
            "killed by signal 9");
  auto reclaim_client = [&] {
    const absl::StatusOr<ReclaimReport> r =
        ReclaimProcess(seg, kClient, LoadAcquire(seg.proc(kClient).xword));
    ASSERT_TRUE(r.ok()) << r.status();
  };
  auto reclaim_purger = [&] {
    const absl::StatusOr<uint32_t> r = ReclaimDeadPurgers(seg);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, 1u);
  };
  if (client_first) reclaim_client();
  reclaim_purger();
  if (!client_first) reclaim_client();
  ExpectRingWrapsAround(seg);
  ExpectEveryBlockHomeOnce(seg, *ring.heap);
}

INSTANTIATE_TEST_SUITE_P(Repaired, DeadClientAndPurger, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& first) {
                           return first.param ? "ClientFirst" : "PurgerFirst";
                         });

// A purger stopped between its CAS and its release, while another thread of its process
// purges from start to end: each holds a record of its own, the second leaves the first's
// record and cell alone, and once the first goes on every block is home once.
TEST(Purge, TwoPurgesAtOnceHoldARecordEach) {
  OneBatchInTheRing ring;
  const Segment& seg = ring.seg();
  static std::atomic<int> phase{0};  // 1: the first purger is stopped; 2: let it go on
  static thread_local bool stopping = false;
  SetRingHookForTesting([](bool push, RingPoint p) {
    if (push || p != RingPoint::kClaimed || !stopping) return;
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
  });
  std::thread first([&seg] {
    stopping = true;
    Purge(seg);
  });
  while (phase.load() != 1) std::this_thread::yield();
  Purge(seg);
  int held = 0;
  for (const PurgerRecord& rec : seg.header().purgers) held += LoadRelaxed(rec.xowner) != 0;
  EXPECT_EQ(held, 1) << "the second purge freed or took the first one's record";
  phase.store(2);
  first.join();
  SetRingHookForTesting(nullptr);
  EXPECT_EQ(RingDepth(seg, kCls), 0u);
  ExpectEveryBlockHomeOnce(seg, *ring.heap);
}

// With every record held (by live purgers: this process), a purge leaves the rings to
// them and does everything else.
TEST(Purge, WithEveryRecordHeldItLeavesTheRings) {
  OneBatchInTheRing ring;
  const Segment& seg = ring.seg();
  const absl::StatusOr<uint64_t> me = PurgerOwnerOfSelf();
  ASSERT_TRUE(me.ok()) << me.status();
  for (PurgerRecord& rec : seg.header().purgers) StoreRelease(rec.xowner, *me);
  Purge(seg);
  EXPECT_EQ(RingDepth(seg, kCls), 1u);
  for (PurgerRecord& rec : seg.header().purgers) {
    EXPECT_EQ(LoadRelaxed(rec.xowner), *me);
    StoreRelease(rec.xowner, uint64_t{0});
  }
  Purge(seg);
  EXPECT_EQ(RingDepth(seg, kCls), 0u);
  ExpectEveryBlockHomeOnce(seg, *ring.heap);
}

}  // namespace
}  // namespace shmpool::shm
