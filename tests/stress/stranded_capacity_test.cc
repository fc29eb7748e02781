// Stranded capacity: after a multi-process workload has freed everything and every process
// is gone, one fresh process must get the whole capacity in one size class, with NO purge.
// The parent forks kProcs children over a real segment (no daemon). Each round, every child
// allocates blocks of mixed sizes (16 B .. 320 KiB), publishes them through a small shared
// mapping, and after a barrier frees the blocks its neighbour published (cross-process
// frees, which fill batches that go to the classes' transfer rings). After the last round
// every block is free; the children then exit normally, or wait to be killed -9 and
// reclaimed with shm::ReclaimProcess. The parent then attaches and counts the 64 B blocks it
// gets before malloc says NULL, against the count on a fresh segment of the same geometry.
// What the free memory held in rings and slabs of other classes would strand, the arena
// takes back when its last process leaves (a detach, or the reclaim of the last dead one:
// reclaim.h), so the page heap is one coalesced run again: the counts are equal (the
// children die only idle, with nothing allocated, so no kill window leaks a block).
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/recovery.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::stress {
namespace {

constexpr int kProcs = 8;
constexpr uint64_t kCapacity = 64 << 20;
constexpr uint32_t kPerRound = 150;  // blocks each child publishes per round
constexpr uint32_t kLocal = 100;     // blocks each child allocates and frees itself per round

double Scale() {
  const char* s = std::getenv("SHMPOOL_STRESS_SCALE");
  return s ? std::max(0.05, std::atof(s)) : 1.0;
}

// Made before the fork: barrier and each child's published block refs.
struct Shared {
  pthread_barrier_t barrier;  // the children's rounds
  pthread_barrier_t idle;     // kKill: every child idle, and the parent
  uint64_t refs[kProcs][kPerRound];
};

size_t RandomSize(std::mt19937_64& rng) {
  // Log-uniform over 16 B .. 320 KiB: most blocks small, some large runs.
  std::uniform_real_distribution<double> d(std::log(16.0), std::log(320.0 * 1024));
  return static_cast<size_t>(std::exp(d(rng)));
}

enum class End { kExit, kKill };

// Runs the rounds; then detaches (kExit) or, with its caches still held, waits idle to be
// killed (kKill).
void ChildMain(const std::string& path, Shared* sh, int me, int rounds, End end) {
  auto seg = shm::Segment::Open(path);
  if (!seg.ok()) _exit(2);
  auto heap = shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)));
  if (!heap.ok()) _exit(3);
  std::mt19937_64 rng(1000 + me);
  std::vector<void*> local;
  for (int r = 0; r < rounds; ++r) {
    for (uint32_t i = 0; i < kPerRound; ++i)
      sh->refs[me][i] = (*heap)->RefOf((*heap)->Allocate(RandomSize(rng)));  // 0 if NULL
    for (uint32_t i = 0; i < kLocal; ++i) local.push_back((*heap)->Allocate(RandomSize(rng)));
    for (void* p : local) (*heap)->Free(p);
    local.clear();
    pthread_barrier_wait(&sh->barrier);
    const int from = (me + 1) % kProcs;
    for (uint32_t i = 0; i < kPerRound; ++i) (*heap)->Free((*heap)->PtrOf(sh->refs[from][i]));
    pthread_barrier_wait(&sh->barrier);
  }
  if (end == End::kKill) {
    pthread_barrier_wait(&sh->idle);  // nothing allocated: now kill me
    for (;;) pause();
  }
}

// 64 B blocks one fresh process gets before NULL (freed again after).
uint64_t BlocksOf64(std::shared_ptr<shm::Segment> seg) {
  auto heap = shm::Heap::Attach(std::move(seg));
  EXPECT_TRUE(heap.ok()) << heap.status();
  if (!heap.ok()) return 0;
  std::vector<void*> blocks;
  while (void* p = (*heap)->Allocate(64)) blocks.push_back(p);
  for (void* p : blocks) (*heap)->Free(p);
  return blocks.size();
}

void RunStorm(End end) {
  testing::TempSegment fresh(kCapacity);
  const uint64_t want = BlocksOf64(fresh.segment());
  ASSERT_GT(want, 0u);

  testing::TempSegment ts(kCapacity);
  auto* sh = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(sh, MAP_FAILED);
  pthread_barrierattr_t ba;
  pthread_barrierattr_init(&ba);
  pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&sh->barrier, &ba, kProcs);
  pthread_barrier_init(&sh->idle, &ba, kProcs + 1);
  const int rounds = std::max(2, static_cast<int>(40 * Scale()));
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ChildMain(ts.path(), sh, i, rounds, end);
      _exit(0);
    }
    pids.push_back(pid);
  }
  if (end == End::kKill) {
    pthread_barrier_wait(&sh->idle);
    for (pid_t p : pids) kill(p, SIGKILL);
  }
  for (pid_t p : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(p, &status, 0), p);
    if (end == End::kExit) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
  }
  const shm::Segment& seg = *ts.segment();
  if (end == End::kKill) {
    for (uint32_t i = 0; i < seg.geometry().max_procs; ++i)
      if (uint64_t word = 0; shm::ProcessIsDead(seg, i, &word)) {
        EXPECT_TRUE(shm::ReclaimProcess(seg, i, word).ok());
      }
  }
  const shm::ArenaStats before = shm::CollectStats(seg);
  EXPECT_EQ(before.allocated, 0u);
  EXPECT_EQ(before.attached_procs, 0u);
  const uint64_t got = BlocksOf64(ts.segment());
  EXPECT_EQ(got, want) << "64 B blocks after the storm, no purge (a fresh segment gives " << want
                       << "); before: active " << before.active << " B in " << before.nslabs
                       << " slabs, in rings " << before.in_ring << " B, cached " << before.cached
                       << " B, free in slabs " << before.free_in_slabs << " B, parked "
                       << before.parked << " B";
  const shm::ValidationReport v = shm::Validate(seg);
  EXPECT_TRUE(v.ok()) << v.ToString();
  munmap(sh, sizeof(Shared));
}

TEST(StrandedCapacity, WholeCapacityAfterProcessesExit) { RunStorm(End::kExit); }
TEST(StrandedCapacity, WholeCapacityAfterProcessesAreKilledAndReclaimed) { RunStorm(End::kKill); }

}  // namespace
}  // namespace shmpool::stress
