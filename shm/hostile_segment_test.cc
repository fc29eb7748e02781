// The daemon's readers over a segment a tenant wrote whatever it liked into. Every reader
// the daemon runs over a segment (stats, client stats, the slab map, Validate, Purge, the
// audit's ReclaimProcess and ReleaseAbandonedClaim) runs inside an UntrustedScope, in a
// forked child, so an abort, a SIGSEGV or a hang is a failure of the test rather than the
// death of the test binary:
//   - a cyclic free-run bucket list, slab list, slab free list, cache chain and ring end
//     in a SegmentFault or a clean return (never a hang);
//   - a page-heap mutex that the tenant holds for ever ends a purge in kLockTimeout;
//   - seeded random scribbles over the page-heap state, the page map, the runs section,
//     the class records and the caches of a segment with live state end either cleanly or
//     in a SegmentFault (SHMPOOL_HOSTILE_SEEDS=N runs more seeds than the default 500,
//     SHMPOOL_HOSTILE_SEED=K only seed K).
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/client_stats.h"
#include "shm/heap.h"
#include "shm/pool.h"
#include "shm/purge.h"
#include "shm/recovery.h"
#include "shm/slab_lists.h"
#include "shm/slab_map.h"
#include "shm/stats.h"
#include "shm/untrusted.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

// How one daemon pass ended, as the forked child's exit says.
enum class Outcome { kClean, kFault, kValidateErrors, kCrashed, kHung };

const char* Name(Outcome o) {
  switch (o) {
    case Outcome::kClean:
      return "clean";
    case Outcome::kFault:
      return "SegmentFault";
    case Outcome::kValidateErrors:
      return "Validate errors";
    case Outcome::kCrashed:
      return "crashed";
    case Outcome::kHung:
      return "hung";
  }
  return "?";
}
void PrintTo(Outcome o, std::ostream* os) { *os << Name(o); }

// What the daemon does with a segment, each step on its own or all of them.
enum Steps : unsigned {
  kStats = 1,
  kValidate = 2,
  kPurge = 4,
  kReclaim = 8,
  kAll = 15,
};

// Runs the steps in a scope; exit 0 clean, 1 SegmentFault, 2 Validate found errors.
[[noreturn]] void DaemonPass(const std::string& path, unsigned steps) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(0);  // refused at open: as good as a fault
  const Segment& s = **seg;
  int code = 0;
  try {
    UntrustedScope scope(std::chrono::milliseconds(200));
    if (steps & kStats) {
      (void)CollectStats(s);
      (void)CollectClientStats(s);
      (void)ReadSegmentMap(s);
      (void)ListPools(s);
    }
    if ((steps & kValidate) && !Validate(s).ok()) code = 2;
    if (steps & kPurge) (void)Purge(s);
    if (steps & kReclaim)
      for (uint32_t p = 0; p < s.geometry().max_procs; ++p) {
        (void)ReleaseAbandonedClaim(s, p);
        (void)ReclaimProcess(s, p, LoadAcquire(s.proc(p).xword));
      }
  } catch (const SegmentFault&) {
    code = 1;
  }
  _exit(code);
}

Outcome RunDaemonPass(const std::string& path, unsigned steps) {
  const pid_t child = fork();
  if (child == 0) DaemonPass(path, steps);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return Outcome::kHung;
    }
    const timespec ms{0, 1000000};
    nanosleep(&ms, nullptr);
  }
  if (!WIFEXITED(status)) return Outcome::kCrashed;
  switch (WEXITSTATUS(status)) {
    case 0:
      return Outcome::kClean;
    case 1:
      return Outcome::kFault;
    case 2:
      return Outcome::kValidateErrors;
  }
  return Outcome::kCrashed;
}

Geometry SmallGeometry() {
  return Geometry{.max_procs = 4, .max_thread_caches = 8, .ring_slots = 8};
}

// Live state in every structure the daemon reads: a client (a forked child, killed
// without detaching, so its record and caches stay as they were) allocated and freed
// blocks of many classes and large runs, and holds pool objects.
void MakeLiveState(const TempSegment& ts) {
  PoolSpec spec{.name = "pkt", .object_size = 256, .count = 64, .caches = 4};
  ASSERT_TRUE(CreatePool(*ts.segment(), spec).ok());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto heap = Heap::Attach(ts.segment());
    if (!heap.ok()) _exit(1);
    std::mt19937 rng(7);
    std::vector<void*> live;
    for (int i = 0; i < 3000; ++i) {
      const size_t n = size_t{16} << (rng() % 12);
      live.push_back((*heap)->Allocate(n + rng() % n));
      if (rng() % 3 == 0) {
        const size_t k = rng() % live.size();
        (*heap)->Free(live[k]);
        live[k] = live.back();
        live.pop_back();
      }
    }
    for (int i = 0; i < 6; ++i) live.push_back((*heap)->Allocate(40000 * (i + 1)));
    for (size_t k = 0; k < live.size(); k += 4) (*heap)->Free(live[k]);
    auto pool = Pool::Open(ts.segment(), (*heap)->proc_index(), "pkt");
    if (!pool.ok()) _exit(1);
    for (int i = 0; i < 10; ++i) (void)(*pool)->Get();
    kill(getpid(), SIGKILL);
  }
  int status;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
}

void ExpectFaultOrClean(Outcome o, const char* what) {
  EXPECT_TRUE(o == Outcome::kClean || o == Outcome::kFault || o == Outcome::kValidateErrors)
      << what << ": " << Name(o);
}

// The first free run of `pages` pages listed in its bucket, and the one after it.
TEST(HostileSegment, CyclicFreeRunListEndsInAFault) {
  TempSegment ts(8 << 20, SmallGeometry());
  {
    auto heap = *Heap::Attach(ts.segment());
    std::vector<void*> big;
    for (int i = 0; i < 8; ++i) big.push_back(heap->Allocate(64 << 10));  // 16 pages each
    for (int i = 0; i < 8; i += 2) heap->Free(big[i]);  // four free runs, none adjacent
  }
  const Segment& seg = *ts.segment();
  PageHeapState& h = seg.header().heap;
  const uint32_t head = h.buckets[15];
  ASSERT_NE(head, 0u);
  const uint32_t second = seg.run(head - 1).next;
  ASSERT_NE(second, 0u);
  seg.run(second - 1).next = head;  // head -> second -> head
  EXPECT_EQ(RunDaemonPass(ts.path(), kPurge), Outcome::kFault);
  EXPECT_EQ(RunDaemonPass(ts.path(), kValidate), Outcome::kValidateErrors);
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kAll), "all");
}

TEST(HostileSegment, CyclicSlabListEndsInAFault) {
  TempSegment ts(8 << 20, SmallGeometry());
  {
    auto heap = *Heap::Attach(ts.segment());
    ASSERT_NE(heap->Allocate(64), nullptr);
  }
  const Segment& seg = *ts.segment();
  const ClassCentral& c = seg.central(ClassOf(64));
  const uint32_t head = FullestPartial(c);
  ASSERT_NE(head, 0u);
  seg.run(head - 1).next = head;  // the slab lists itself after itself
  EXPECT_EQ(RunDaemonPass(ts.path(), kPurge), Outcome::kFault);
  EXPECT_EQ(RunDaemonPass(ts.path(), kValidate), Outcome::kValidateErrors);
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kAll), "all");
}

TEST(HostileSegment, CyclicSlabFreeListAndCacheChainEnd) {
  TempSegment ts(8 << 20, SmallGeometry());
  MakeLiveState(ts);
  const Segment& seg = *ts.segment();
  // Every slab's free list and every cache chain points back at its own head.
  for (uint32_t p = 0; p < seg.header().heap.frontier;) {
    RunMeta& r = seg.run(p);
    if (PageEntry::KindOf(LoadRelaxed(seg.page_entry(p))) == kPageSlab && r.free_head != 0)
      seg.block(r.free_head).next = r.free_head;
    p += r.pages;
  }
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t)
    for (uint32_t c = 1; c < kNumClasses; ++c)
      if (const uint64_t b = LoadRelaxed(seg.cache(t).bins[c].xlist)) seg.block(b).next = b;
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kStats), "stats");
  EXPECT_EQ(RunDaemonPass(ts.path(), kValidate), Outcome::kValidateErrors);
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kPurge), "purge");
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kReclaim), "reclaim");
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kAll), "all");
}

TEST(HostileSegment, RingThatNeverEmptiesEndsInAFault) {
  TempSegment ts(8 << 20, SmallGeometry());
  const Segment& seg = *ts.segment();
  const uint32_t cls = ClassOf(64);
  // The cell at the dequeue position says a later lap has it: a pop retries for ever.
  seg.ring(cls)[0].xseq.store(1000);
  EXPECT_EQ(RunDaemonPass(ts.path(), kPurge), Outcome::kFault);
  ExpectFaultOrClean(RunDaemonPass(ts.path(), kAll), "all");
}

TEST(HostileSegment, PurgeGivesUpOnAPageHeapMutexHeldForEver) {
  TempSegment ts(8 << 20, SmallGeometry());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {  // the tenant: takes its own page-heap mutex and never lets go
    ts.segment()->header().heap.mutex.Lock();
    const char c = 1;
    (void)!write(ready[1], &c, 1);
    for (;;) pause();
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    UntrustedScope scope(std::chrono::milliseconds(200));
    (void)Purge(*ts.segment());
    ADD_FAILURE() << "Purge returned";
  } catch (const SegmentFault& f) {
    EXPECT_EQ(f.kind(), SegmentFault::Kind::kLockTimeout) << f.what();
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(195));
  EXPECT_LT(waited, std::chrono::seconds(2));
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

// A purge that a held class mutex ends (between two ring steps) gives its purger record
// back: a daemon that probes a stuck arena purge after purge must not use up the records.
TEST(HostileSegment, APurgeEndedByAHeldClassMutexGivesItsRecordBack) {
  TempSegment ts(8 << 20, SmallGeometry());
  const Segment& seg = *ts.segment();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {  // the tenant: takes the first class's mutex and never lets go
    seg.central(1).mutex.Lock();
    const char c = 1;
    (void)!write(ready[1], &c, 1);
    for (;;) pause();
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  for (uint32_t round = 0; round < 2 * kMaxPurgers; ++round) {
    try {
      UntrustedScope scope(std::chrono::milliseconds(20));
      (void)Purge(seg);
      ADD_FAILURE() << "Purge returned";
    } catch (const SegmentFault& f) {
      EXPECT_EQ(f.kind(), SegmentFault::Kind::kLockTimeout) << f.what();
    }
    for (const PurgerRecord& rec : seg.header().purgers)
      EXPECT_EQ(LoadAcquire(rec.xowner), 0u) << "round " << round;
  }
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

// Seeds [first, end): SHMPOOL_HOSTILE_SEEDS=N runs N of them, SHMPOOL_HOSTILE_SEED=K only K.
std::pair<int, int> Seeds() {
  if (const char* one = std::getenv("SHMPOOL_HOSTILE_SEED"))
    return {std::atoi(one), std::atoi(one) + 1};
  const char* n = std::getenv("SHMPOOL_HOSTILE_SEEDS");
  return {0, n ? std::atoi(n) : 500};
}

// One of the byte ranges a scribble lands in, with the weight it is chosen by.
struct Target {
  uint64_t offset, len;
  int weight;
};

TEST(HostileSegment, RandomScribblesEndCleanlyOrInAFault) {
  TempSegment ts(4 << 20, SmallGeometry());
  MakeLiveState(ts);
  const Segment& seg = *ts.segment();
  const Sections& s = seg.sections();
  const uint64_t frontier = seg.header().heap.frontier;
  const std::vector<char> image(seg.base(), seg.base() + s.total);
  const std::vector<Target> targets = {
      {offsetof(SegmentHeader, heap), sizeof(PageHeapState), 4},
      {s.runs, (frontier + 1) * sizeof(RunMeta), 4},
      {s.pagemap, (frontier + 1) * sizeof(uint64_t), 2},
      {s.classes, uint64_t{kNumClasses} * sizeof(ClassCentral), 1},
      {s.caches, uint64_t{seg.geometry().max_thread_caches} * sizeof(ThreadCache), 1},
      {s.procs, uint64_t{seg.geometry().max_procs} * sizeof(ProcRecord), 1},
      {s.data, frontier << kPageShift, 1},
  };
  std::vector<int> by_weight;
  for (size_t i = 0; i < targets.size(); ++i)
    by_weight.insert(by_weight.end(), targets[i].weight, i);
  int counts[5] = {};
  const auto [first, end] = Seeds();
  for (int seed = first; seed < end; ++seed) {
    std::memcpy(seg.base(), image.data(), image.size());
    std::mt19937_64 rng(seed);
    const int edits = 1 + static_cast<int>(rng() % 16);
    for (int e = 0; e < edits; ++e) {
      const Target& t = targets[by_weight[rng() % by_weight.size()]];
      const uint64_t at = t.offset + (rng() % t.len & ~uint64_t{3});
      // Values a scribble that means harm picks: small counts, page indices (+1), all ones.
      const uint32_t choices[] = {0,
                                  1,
                                  static_cast<uint32_t>(rng() % (frontier + 2)),
                                  static_cast<uint32_t>(rng()),
                                  ~uint32_t{0},
                                  static_cast<uint32_t>(rng() % 64)};
      const uint32_t v = choices[rng() % 6];
      std::memcpy(seg.base() + at, &v, sizeof(v));
    }
    const Outcome o = RunDaemonPass(ts.path(), kAll);
    ++counts[static_cast<int>(o)];
    ASSERT_TRUE(o == Outcome::kClean || o == Outcome::kFault || o == Outcome::kValidateErrors)
        << "seed " << seed << ": " << Name(o);
  }
  std::printf("scribbles: %d clean, %d SegmentFault, %d Validate errors\n", counts[0], counts[1],
              counts[2]);
}

}  // namespace
}  // namespace shmpool::shm
