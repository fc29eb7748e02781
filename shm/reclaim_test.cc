// Reclaim before failing, across processes: process A hoards 128 B blocks (its thread cache,
// and the full batches its frees left in the class's transfer ring); process B exhausts the
// arena with 64 B blocks. B's first NULL comes only after the rings are drained (everything
// except the slabs A's cache pins is B's), and B's request makes A's cache give its blocks
// back on A's next slow path (a refill that succeeds: B gave back a few blocks for it): after
// that, B and A hold the whole capacity between them in 64 B blocks. The processes step in lockstep
// through pipes.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/pool.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

constexpr uint64_t kCapacity = 8 << 20;

// Blocks of `size` one process gets before NULL (kept in `out`).
uint64_t Exhaust(Heap& heap, size_t size, std::vector<void*>& out) {
  const size_t before = out.size();
  while (void* p = heap.Allocate(size)) out.push_back(p);
  return out.size() - before;
}

const ClassStats* StatsOf(const ArenaStats& a, uint32_t size) {
  for (const ClassStats& c : a.classes)
    if (c.size == size) return &c;
  return nullptr;
}

void Send(int fd) {
  const char c = 1;
  ASSERT_EQ(write(fd, &c, 1), 1);
}
void Wait(int fd) {
  char c;
  ASSERT_EQ(read(fd, &c, 1), 1);
}

// Child A: hoards 128 B blocks, then (on cue) takes one slow path, then (on cue) exits.
[[noreturn]] void Hoarder(const std::string& path, int cue, int done) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(2);
  auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*seg)));
  if (!heap.ok()) _exit(3);
  std::vector<void*> v;
  Exhaust(**heap, 128, v);
  for (void* p : v) (*heap)->Free(p);  // its cache keeps some, full batches go to the ring
  Send(done);
  Wait(cue);
  void* p = (*heap)->Allocate(64);  // its 64 B list is empty: a slow path
  Send(done);
  Wait(cue);
  (*heap)->Free(p);
  _exit(p ? 0 : 4);
}

TEST(Reclaim, ALiveIdleCacheGivesBackOnItsNextSlowPath) {
  uint64_t fresh = 0;
  {
    TempSegment ts(kCapacity);
    auto heap = *Heap::Attach(ts.segment());
    std::vector<void*> v;
    fresh = Exhaust(*heap, 64, v);
    for (void* p : v) heap->Free(p);
  }
  ASSERT_GT(fresh, 0u);

  TempSegment ts(kCapacity);
  const Segment& seg = *ts.segment();
  int cue[2], done[2];
  ASSERT_EQ(pipe(cue), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) Hoarder(ts.path(), cue[0], done[1]);
  auto heap = *Heap::Attach(ts.segment());
  Wait(done[0]);
  const ArenaStats hoard = CollectStats(seg);
  const ClassStats* a128 = StatsOf(hoard, 128);
  ASSERT_NE(a128, nullptr);
  ASSERT_GT(a128->cached, 0u) << "A's cache holds 128 B blocks";
  ASSERT_GT(a128->in_ring, 0u) << "A's frees left full batches in the ring";
  EXPECT_EQ(a128->allocated, 0u);

  // B's first NULL: the rings are drained, A's cache still pins its slabs.
  std::vector<void*> mine;
  const uint64_t first = Exhaust(*heap, 64, mine);
  const ArenaStats short1 = CollectStats(seg);
  const ClassStats* s128 = StatsOf(short1, 128);
  ASSERT_NE(s128, nullptr);
  EXPECT_EQ(short1.in_ring, 0u);
  EXPECT_EQ(s128->cached, a128->cached) << "A has not passed a slow path yet";
  EXPECT_GT(s128->active, 0u);
  EXPECT_EQ(short1.reclaimable, s128->active) << "the free blocks in A's pinned slabs";
  EXPECT_EQ(first * 64 + s128->active, fresh * 64)
      << "B gets everything but the slabs A's cache pins: " << first << " of " << fresh;

  // B gives back a few blocks, so A's slow path can succeed without failing first (a
  // failing one would flush A's own cache anyway); A honours the request there and its
  // 128 B slabs go back.
  constexpr uint64_t kGiven = 64;
  for (uint64_t i = 0; i < kGiven; ++i) {
    heap->Free(mine.back());
    mine.pop_back();
  }
  heap->FlushThreadCache();
  Send(cue[1]);
  Wait(done[0]);
  const uint64_t second = Exhaust(*heap, 64, mine);
  const ArenaStats full = CollectStats(seg);
  const ClassStats* f128 = StatsOf(full, 128);
  const ClassStats* f64 = StatsOf(full, 64);
  ASSERT_NE(f64, nullptr);
  EXPECT_EQ(f128 ? f128->active : 0u, 0u) << "A's hoard came back";
  EXPECT_GT(second, 0u);
  EXPECT_EQ(full.reclaimable, f64->cached) << "only A's new 64 B list";
  EXPECT_EQ(f64->allocated, (first - kGiven + second + 1) * 64) << "B's blocks and A's one";
  EXPECT_EQ(f64->allocated + f64->cached, fresh * 64)
      << "B and A hold the whole capacity in 64 B blocks: B " << first << " - " << kGiven << " + "
      << second << ", A " << f64->cached / 64 + 1 << " of " << fresh;

  Send(cue[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (void* p : mine) heap->Free(p);
  heap->FlushThreadCache();
  const ValidationReport v = Validate(seg);
  EXPECT_TRUE(v.ok()) << v.ToString();
  for (int fd : {cue[0], cue[1], done[0], done[1]}) close(fd);
}

// A pool's run comes from the page heap too: a creation that finds no room drains the rings
// first. Here the only free pages beyond the free runs are the 128 B slabs the ring's full
// batches pin, and the pool needs half of them.
TEST(Reclaim, APoolCreationTakesBackWhatTheRingsPin) {
  TempSegment ts(kCapacity);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  Exhaust(*heap, 128, v);
  for (void* p : v) heap->Free(p);
  heap->FlushThreadCache();
  const ArenaStats a = CollectStats(seg);
  ASSERT_GE(a.in_ring, 128 * kPageSize);
  const uint64_t free_pages = a.free_run_bytes / kPageSize;
  const PoolSpec spec{.name = "big",
                      .object_size = kPageSize,
                      .count = static_cast<uint32_t>(free_pages + a.in_ring / kPageSize / 2),
                      .caches = 1};
  const absl::StatusOr<uint32_t> pool = CreatePool(seg, spec);
  EXPECT_TRUE(pool.ok()) << pool.status() << "; free runs " << free_pages << " pages, in rings "
                         << a.in_ring / kPageSize << " pages";
  EXPECT_EQ(CollectStats(seg).in_ring, 0u);
  const ValidationReport r = Validate(seg);
  EXPECT_TRUE(r.ok()) << r.ToString();
}

}  // namespace
}  // namespace shmpool::shm
