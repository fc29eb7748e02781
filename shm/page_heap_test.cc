// Proves the page heap's contracts (page_heap.h): freed runs coalesce with their free
// neighbours whatever the order of the frees, a request takes the best-fitting free run,
// a free run at the frontier joins the unused pages after it (so an empty heap can hand
// out its whole capacity at once), exhaustion gives kNoRun, FreeRun refuses anything that
// is not a live run of the given kind, purge gives pages back to the OS (st_blocks drops)
// and purged pages come back zeroed and usable, and RepairPageHeap restores a
// Validate-clean heap after an operation was cut short: by hand-set journals, and by a
// process killed while it held the robust mutex (the next locker sees EOWNERDEAD).
#include "shm/page_heap.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using shmpool::testing::TempSegment;

Geometry SmallGeometry() {
  Geometry g;
  g.max_procs = 4;
  g.max_thread_caches = 4;
  g.ring_slots = 4;
  return g;
}

class PageHeapTest : public ::testing::Test {
 protected:
  explicit PageHeapTest(uint64_t capacity = 4 << 20) : ts_(capacity, SmallGeometry()) {}

  const Segment& seg() const { return *ts_.segment(); }
  PageHeapState& heap() const { return seg().header().heap; }
  uint64_t npages() const { return seg().data_pages(); }

  // A large run straight from the page heap.
  uint32_t Alloc(uint32_t pages) { return AllocRun(seg(), pages, kPageLarge, 0); }
  bool Free(uint32_t start) { return FreeRun(seg(), start, kPageLarge); }

  uint64_t FreePages() const { return LoadRelaxed(heap().xfree_pages); }
  uint64_t RetainedPages() const { return LoadRelaxed(heap().xretained_pages); }
  PageKind KindAt(uint32_t page) const {
    return PageEntry::KindOf(LoadRelaxed(seg().page_entry(page)));
  }
  // True when [start, start + pages) is exactly one free run.
  bool IsFreeRun(uint32_t start, uint32_t pages) const {
    return KindAt(start) == kPageFree &&
           PageEntry::StartOf(LoadRelaxed(seg().page_entry(start))) == start &&
           seg().run(start).pages == pages;
  }

  void ExpectValid() const {
    ValidationReport r = Validate(seg());
    EXPECT_TRUE(r.ok()) << r.ToString();
    EXPECT_EQ(heap().journal_op, 0u);
  }

  TempSegment ts_;
};

TEST_F(PageHeapTest, CarvesRunsInOrderAndMarksEveryPage) {
  EXPECT_EQ(heap().frontier, 0u);
  const uint32_t a = Alloc(1), b = Alloc(2), c = Alloc(3);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  EXPECT_EQ(c, 3u);
  EXPECT_EQ(heap().frontier, 6u);
  EXPECT_EQ(LoadRelaxed(heap().xfrontier_pages), 6u);
  EXPECT_GE(heap().backed_frontier, heap().frontier);
  for (uint32_t p = 3; p < 6; ++p) {
    const uint64_t e = LoadRelaxed(seg().page_entry(p));
    EXPECT_EQ(PageEntry::KindOf(e), kPageLarge);
    EXPECT_EQ(PageEntry::StartOf(e), 3u);
  }
  EXPECT_EQ(seg().run(3).pages, 3u);
  const uint32_t s = AllocRun(seg(), 4, kPageSlab, 7);
  for (uint32_t p = s; p < s + 4; ++p) {
    const uint64_t e = LoadRelaxed(seg().page_entry(p));
    EXPECT_EQ(PageEntry::KindOf(e), kPageSlab);
    EXPECT_EQ(PageEntry::ClassOf(e), 7u);
    EXPECT_EQ(PageEntry::StartOf(e), s);
  }
  EXPECT_TRUE(FreeRun(seg(), s, kPageSlab));
  ExpectValid();
}

// Four adjacent runs, then a guard; free the four in each of the 24 orders: they must end
// as one free run every time, and the heap must validate after every single free.
TEST_F(PageHeapTest, NeighboursCoalesceInEveryOrder) {
  const std::array<uint32_t, 4> sizes = {3, 5, 2, 7};
  std::array<int, 4> order = {0, 1, 2, 3};
  const uint32_t total = std::accumulate(sizes.begin(), sizes.end(), 0u);
  uint32_t guard = kNoRun;
  int permutations = 0;
  do {
    std::array<uint32_t, 4> start;
    for (int i = 0; i < 4; ++i) start[i] = Alloc(sizes[i]);
    if (guard == kNoRun) guard = Alloc(1);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(start[i], i ? start[i - 1] + sizes[i - 1] : 0u);
    ASSERT_EQ(guard, total);
    EXPECT_EQ(FreePages(), 0u);
    for (int i : order) {
      ASSERT_TRUE(Free(start[i]));
      ExpectValid();
    }
    EXPECT_TRUE(IsFreeRun(0, total)) << "run at 0 has " << seg().run(0).pages << " pages";
    EXPECT_EQ(FreePages(), total);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 24);
}

TEST_F(PageHeapTest, NonAdjacentRunsDoNotCoalesce) {
  const uint32_t a = Alloc(2), b = Alloc(2), c = Alloc(2), d = Alloc(1);
  (void)d;
  ASSERT_TRUE(Free(a));
  ASSERT_TRUE(Free(c));
  EXPECT_TRUE(IsFreeRun(a, 2));
  EXPECT_TRUE(IsFreeRun(c, 2));
  EXPECT_EQ(KindAt(b), kPageLarge);
  ExpectValid();
  ASSERT_TRUE(Free(b));
  EXPECT_TRUE(IsFreeRun(a, 6));
  ExpectValid();
}

// Free runs of 5, 3, 8 and 4 pages separated by one-page guards: each request takes the
// smallest run that holds it, and splits off the rest.
TEST_F(PageHeapTest, BestFitAmongSmallRuns) {
  std::vector<uint32_t> runs;
  for (uint32_t n : {5u, 3u, 8u, 4u}) {
    runs.push_back(Alloc(n));
    Alloc(1);
  }
  for (uint32_t r : runs) ASSERT_TRUE(Free(r));
  EXPECT_EQ(Alloc(3), runs[1]);
  EXPECT_EQ(Alloc(4), runs[3]);
  EXPECT_EQ(Alloc(5), runs[0]);
  EXPECT_EQ(Alloc(6), runs[2]);
  EXPECT_TRUE(IsFreeRun(runs[2] + 6, 2));
  EXPECT_EQ(Alloc(2), runs[2] + 6);
  EXPECT_EQ(FreePages(), 0u);
  ExpectValid();
}

TEST_F(PageHeapTest, BestFitAmongLargeRuns) {
  std::vector<uint32_t> runs;
  for (uint32_t n : {300u, 200u, 129u, 131u}) {
    runs.push_back(Alloc(n));
    Alloc(1);
  }
  for (uint32_t r : runs) ASSERT_TRUE(Free(r));
  EXPECT_EQ(Alloc(150), runs[1]);  // 200 is the smallest run of at least 150
  EXPECT_EQ(Alloc(128), runs[2]);  // 129, not 131 or 300
  EXPECT_EQ(Alloc(131), runs[3]);  // exact
  EXPECT_TRUE(IsFreeRun(runs[1] + 150, 50));
  EXPECT_TRUE(IsFreeRun(runs[2] + 128, 1));
  ExpectValid();
}

TEST_F(PageHeapTest, ExhaustionGivesNoRun) {
  const uint32_t all = Alloc(static_cast<uint32_t>(npages()));
  ASSERT_EQ(all, 0u);
  EXPECT_EQ(Alloc(1), kNoRun);
  ExpectValid();
  ASSERT_TRUE(Free(all));
  EXPECT_EQ(Alloc(static_cast<uint32_t>(npages()) + 1), kNoRun);
  const uint32_t a = Alloc(static_cast<uint32_t>(npages()) - 10);
  const uint32_t b = Alloc(10);
  EXPECT_NE(a, kNoRun);
  EXPECT_NE(b, kNoRun);
  EXPECT_EQ(Alloc(1), kNoRun);
  EXPECT_EQ(AllocRun(seg(), 1, kPageSlab, 3), kNoRun);
  ExpectValid();
}

// A free run that ends at the frontier and the unused pages after it are one stretch of
// free memory: a request bigger than the run must be able to use both.
TEST_F(PageHeapTest, FreeRunAtTheFrontierJoinsTheUnusedPages) {
  const uint32_t a = Alloc(10), b = Alloc(10);
  ASSERT_TRUE(Free(b));
  ASSERT_EQ(heap().frontier, 20u);
  const uint32_t c = Alloc(static_cast<uint32_t>(npages()) - 10);
  ASSERT_EQ(c, 10u);
  ExpectValid();
  ASSERT_TRUE(Free(a));
  ASSERT_TRUE(Free(c));
  ExpectValid();
}

TEST_F(PageHeapTest, EmptyHeapHandsOutItsWholeCapacityAfterPartialUse) {
  // Use part of the heap in odd-sized runs, free everything: the free run [0, frontier)
  // and the unused pages after it must serve one request for every page.
  std::vector<uint32_t> runs;
  for (uint32_t i = 0; i < 40; ++i) runs.push_back(Alloc(1 + i % 7));
  ASSERT_LT(heap().frontier, npages());
  for (uint32_t r : runs) ASSERT_TRUE(Free(r));
  ExpectValid();
  const uint32_t all = Alloc(static_cast<uint32_t>(npages()));
  ASSERT_EQ(all, 0u);
  EXPECT_EQ(FreePages(), 0u);
  ExpectValid();
  // And in slabs of 3 pages: every whole slab that fits.
  ASSERT_TRUE(Free(all));
  uint32_t slabs = 0;
  while (AllocRun(seg(), 3, kPageSlab, 1) != kNoRun) ++slabs;
  EXPECT_EQ(slabs, npages() / 3);
}

TEST_F(PageHeapTest, FreeRunRefusesWhatIsNotALiveRun) {
  const uint32_t a = Alloc(4), b = Alloc(2);
  Alloc(1);
  const uint64_t free_before = FreePages();
  EXPECT_FALSE(FreeRun(seg(), a + 1, kPageLarge)) << "inside a run";
  EXPECT_FALSE(FreeRun(seg(), a + 3, kPageLarge)) << "last page of a run";
  EXPECT_FALSE(FreeRun(seg(), a, kPageSlab)) << "a large run freed as a slab";
  EXPECT_FALSE(FreeRun(seg(), heap().frontier, kPageLarge)) << "at the frontier";
  EXPECT_FALSE(FreeRun(seg(), static_cast<uint32_t>(npages()) - 1, kPageLarge)) << "unused";
  EXPECT_FALSE(FreeRun(seg(), ~uint32_t{0} - 1, kPageLarge)) << "far out of range";
  EXPECT_EQ(FreePages(), free_before);
  ExpectValid();
  ASSERT_TRUE(Free(b));
  EXPECT_FALSE(FreeRun(seg(), b, kPageLarge)) << "double free";
  EXPECT_FALSE(FreeRun(seg(), b + 1, kPageLarge)) << "inside a free run";
  EXPECT_FALSE(FreeRun(seg(), b, kPageSlab)) << "a free run freed as a slab";
  EXPECT_EQ(FreePages(), 2u);
  ExpectValid();
  // A slab is freed only as a slab.
  const uint32_t s = AllocRun(seg(), 2, kPageSlab, 5);
  ASSERT_EQ(s, b);
  EXPECT_FALSE(FreeRun(seg(), s, kPageLarge)) << "a slab freed as large";
  EXPECT_FALSE(FreeRun(seg(), s + 1, kPageSlab)) << "inside a slab";
  EXPECT_TRUE(FreeRun(seg(), s, kPageSlab));
  EXPECT_TRUE(Free(a));
  ExpectValid();
}

class PageHeapPurgeTest : public PageHeapTest {
 protected:
  PageHeapPurgeTest() : PageHeapTest(32 << 20) {}
};

TEST_F(PageHeapPurgeTest, PurgeDropsBlocksAndPurgedPagesComeBackZeroed) {
  constexpr uint32_t kPages = 1024;  // 4 MiB
  const uint32_t a = Alloc(kPages);
  const uint32_t guard = Alloc(1);
  (void)guard;
  char* mem = seg().base() + seg().page_offset(a);
  std::memset(mem, 0x77, uint64_t{kPages} << kPageShift);
  ASSERT_TRUE(Free(a));
  const uint64_t before = seg().ResidentBytes();
  const uint64_t released = PurgeFreePages(seg());
  const uint64_t after = seg().ResidentBytes();
  EXPECT_GE(released, uint64_t{kPages} << kPageShift);
  EXPECT_LE(after + (uint64_t{kPages} << kPageShift), before) << before << " -> " << after;
  EXPECT_EQ(RetainedPages(), kPages);
  EXPECT_EQ(seg().run(a).backed_pages, 0u);
  EXPECT_GE(heap().backed_frontier, heap().frontier);
  ExpectValid();
  // A second purge has nothing left to release.
  EXPECT_EQ(PurgeFreePages(seg()), 0u);

  // Take part of the purged run back: it reads zero, is writable, and only the taken
  // pages leave the retained count.
  const uint32_t b = Alloc(100);
  EXPECT_EQ(b, a);
  EXPECT_EQ(RetainedPages(), kPages - 100);
  const char* p = seg().base() + seg().page_offset(b);
  for (uint64_t i = 0; i < (100 << kPageShift); i += 512) ASSERT_EQ(p[i], 0) << i;
  std::memset(seg().base() + seg().page_offset(b), 0x11, 100 << kPageShift);
  ExpectValid();
  ASSERT_TRUE(Free(b));
  ExpectValid();
}

TEST_F(PageHeapPurgeTest, PartlyPurgedRunIsBackedWholeWhenTaken) {
  const uint32_t a = Alloc(64), b = Alloc(64);
  Alloc(1);
  ASSERT_TRUE(Free(a));
  PurgeFreePages(seg());
  ASSERT_EQ(RetainedPages(), 64u);
  ASSERT_TRUE(Free(b));  // coalesces a backed run with a purged one
  EXPECT_TRUE(IsFreeRun(a, 128));
  EXPECT_EQ(seg().run(a).backed_pages, 64u);
  EXPECT_EQ(RetainedPages(), 64u);
  ExpectValid();
  const uint64_t before = seg().ResidentBytes();
  const uint32_t c = Alloc(100);
  EXPECT_EQ(c, a);
  EXPECT_EQ(RetainedPages(), 0u);
  EXPECT_GE(seg().ResidentBytes(), before + (64u << kPageShift));
  std::memset(seg().base() + seg().page_offset(c), 0x22, 100 << kPageShift);
  ExpectValid();
}

TEST_F(PageHeapPurgeTest, PurgeReleasesPagesReservedAheadOfTheFrontier) {
  Alloc(1);
  ASSERT_GT(heap().backed_frontier, heap().frontier);
  const uint64_t ahead = uint64_t{heap().backed_frontier - heap().frontier} << kPageShift;
  const uint64_t before = seg().ResidentBytes();
  EXPECT_GE(PurgeFreePages(seg()), ahead);
  EXPECT_EQ(heap().backed_frontier, heap().frontier);
  EXPECT_LE(seg().ResidentBytes() + ahead, before);
  // The frontier backs again on the next carve.
  const uint32_t r = Alloc(16);
  ASSERT_NE(r, kNoRun);
  std::memset(seg().base() + seg().page_offset(r), 1, 16 << kPageShift);
  EXPECT_GE(heap().backed_frontier, heap().frontier);
  ExpectValid();
}

// --- Repair after an interrupted operation -----------------------------------------------

TEST_F(PageHeapTest, RepairRollsBackAnInterruptedAllocation) {
  const uint32_t a = Alloc(4);
  const uint32_t b = Alloc(8);
  const uint32_t c = Alloc(4);
  // The allocating process died after marking the run, before clearing the journal: its
  // caller never got the run, so it must come back free.
  heap().journal_start = b;
  heap().journal_pages = 8;
  heap().journal_op = 1;
  RepairPageHeap(seg());
  EXPECT_TRUE(IsFreeRun(b, 8));
  EXPECT_EQ(FreePages(), 8u);
  ExpectValid();
  EXPECT_EQ(KindAt(a), kPageLarge);
  EXPECT_EQ(KindAt(c), kPageLarge);
  EXPECT_EQ(Alloc(8), b);
  ExpectValid();
}

TEST_F(PageHeapTest, RepairRollsBackAnAllocationCutInsideTheFreeRunSplit) {
  const uint32_t a = Alloc(20);
  Alloc(1);
  ASSERT_TRUE(Free(a));
  // TakeFree of 6 pages out of the 20-page run: journal written and the run unlinked from
  // its bucket, then the process died before the remainder was linked back.
  RunMeta& r = seg().run(a);
  heap().journal_start = a;
  heap().journal_pages = 6;
  heap().journal_op = 1;
  heap().buckets[std::min(r.pages, kFreeRunBuckets) - 1] = 0;
  r.prev = r.next = 0;
  for (uint32_t p = a; p < a + 3; ++p)
    StoreRelaxed(seg().page_entry(p), PageEntry::Make(0, kPageLarge, a));
  RepairPageHeap(seg());
  EXPECT_TRUE(IsFreeRun(a, 20));
  EXPECT_EQ(FreePages(), 20u);
  ExpectValid();
}

TEST_F(PageHeapTest, RepairRollsForwardAnInterruptedFree) {
  const uint32_t a = Alloc(4), b = Alloc(8), c = Alloc(4);
  Alloc(1);
  ASSERT_TRUE(Free(a));
  ASSERT_TRUE(Free(c));
  // FreeRun of b died after the journal and half of b's pages were marked free.
  heap().journal_start = b;
  heap().journal_pages = 8;
  heap().journal_op = 2;
  for (uint32_t p = b; p < b + 4; ++p)
    StoreRelaxed(seg().page_entry(p), PageEntry::Make(0, kPageFree, b));
  RepairPageHeap(seg());
  EXPECT_TRUE(IsFreeRun(a, 16));
  EXPECT_EQ(FreePages(), 16u);
  ExpectValid();
}

// Carve writes its journal before it raises the frontier: a process killed between the two
// leaves a journal that reaches past the frontier. Nothing was handed out; repair must
// just drop the journal (and not abort every later user of the segment).
TEST_F(PageHeapTest, RepairOfACarveCutBeforeTheFrontierMoved) {
  Alloc(5);
  const uint32_t frontier = heap().frontier;
  heap().journal_start = frontier;
  heap().journal_pages = 16;
  heap().journal_op = 1;
  RepairPageHeap(seg());
  EXPECT_EQ(heap().frontier, frontier);
  ExpectValid();
  EXPECT_EQ(Alloc(16), frontier);
  ExpectValid();
}

// The same cut, with the stores landing in the other order: the frontier moved over pages
// whose entries were never written. Those pages were handed to nobody: they become free.
TEST_F(PageHeapTest, RepairOfACarveCutAfterTheFrontierMoved) {
  Alloc(5);
  const uint32_t frontier = heap().frontier;
  heap().frontier = frontier + 16;
  RepairPageHeap(seg());
  EXPECT_TRUE(IsFreeRun(frontier, 16));
  ExpectValid();
}

TEST_F(PageHeapTest, RepairRebuildsScrambledFreeLists) {
  std::vector<uint32_t> runs;
  for (uint32_t i = 0; i < 30; ++i) runs.push_back(Alloc(1 + i % 5));
  for (size_t i = 0; i < runs.size(); i += 2) ASSERT_TRUE(Free(runs[i]));
  const uint64_t free_pages = FreePages();
  // A holder killed mid-unlink leaves the buckets and counters anyhow.
  std::fill(std::begin(heap().buckets), std::end(heap().buckets), 7u);
  StoreRelaxed(heap().xfree_pages, uint64_t{12345});
  RepairPageHeap(seg());
  EXPECT_EQ(FreePages(), free_pages);
  ExpectValid();
  for (size_t i = 1; i < runs.size(); i += 2) ASSERT_TRUE(Free(runs[i]));
  ExpectValid();
}

// A child process takes the page-heap mutex, starts a carve (journal, frontier, half the
// page entries) and dies holding the mutex: by _exit, and by SIGKILL. The next locker
// (AllocRun in the parent) gets EOWNERDEAD, repairs, and the heap validates.
class PageHeapOwnerDiedTest : public PageHeapTest, public ::testing::WithParamInterface<bool> {};

TEST_P(PageHeapOwnerDiedTest, NextLockerRepairs) {
  const bool kill9 = GetParam();
  const uint32_t a = Alloc(3);
  ASSERT_TRUE(Free(Alloc(2)));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    PageHeapState& h = heap();
    h.mutex.Lock();
    const uint32_t start = h.frontier;
    h.journal_start = start;
    h.journal_pages = 16;
    h.journal_op = 1;
    h.frontier = start + 16;
    for (uint32_t p = start; p < start + 8; ++p)
      StoreRelaxed(seg().page_entry(p), PageEntry::Make(0, kPageLarge, start));
    seg().run(start).pages = 16;
    h.buckets[0] = 0;  // and a bucket list cut mid-update
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(2);
    if (kill9) pause();
    _exit(0);  // holding the mutex
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  if (kill9) {
    ASSERT_EQ(kill(pid, SIGKILL), 0);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  if (kill9) {
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  } else {
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }

  const uint32_t frontier = heap().frontier;
  const uint32_t r = Alloc(1);  // locks: EOWNERDEAD, repair
  EXPECT_NE(r, kNoRun);
  EXPECT_EQ(heap().journal_op, 0u);
  ExpectValid();
  EXPECT_EQ(FreePages() + 1, 2u + 16u);  // the dead carve's 16 pages and the old 2, less r
  EXPECT_EQ(heap().frontier, frontier);
  // The mutex is consistent again: it locks and unlocks normally.
  EXPECT_TRUE(Free(r));
  EXPECT_TRUE(Free(a));
  EXPECT_EQ(heap().mutex.Lock(), RobustMutex::LockResult::kAcquired);
  heap().mutex.Unlock();
  ExpectValid();
}

INSTANTIATE_TEST_SUITE_P(ExitOrKill, PageHeapOwnerDiedTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Sigkill" : "Exit";
                         });

}  // namespace
}  // namespace shmpool::shm
