// Proves the contracts of parked slab pages (slab_park.h): purge gives back the pages inside
// slabs that only free blocks touch, for classes whose blocks fit a page, span pages or
// straddle page boundaries; resident bytes drop by what it reports; a free of a parked
// block is refused as a double free and changes nothing; parked blocks come back (from the
// same slabs, before any new slab is made) with their data pages backed, and nothing is
// handed out twice; the repair after a death at any step of park or unpark restores a
// validate()-clean state; stats and the segment map show the parked bytes; and purges
// racing with threads that allocate and free keep every block's contents intact.
#include "shm/slab_park.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/slab_layer.h"
#include "shm/slab_map.h"
#include "shm/stats.h"
#include "shm/transfer_ring.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

void ExpectValid(const Segment& seg) {
  ValidationReport r = Validate(seg);
  EXPECT_TRUE(r.ok()) << r.ToString();
}

uint64_t ParkedPages(const Segment& seg, uint32_t cls) {
  return LoadRelaxed(seg.central(cls).xparked_pages);
}

// Returns the batches waiting in the class's transfer ring to the slabs, as purge does.
void DrainRing(const Segment& seg, uint32_t cls) {
  Transit transit{};
  while (const uint64_t batch = RingPop(seg, cls, transit))
    ReturnBlocks(seg, cls, batch, seg.central(cls).transit);
}

// Fills `n` blocks of `size` with a pattern derived from their address.
void Fill(void* p, size_t size) {
  const auto v = static_cast<unsigned char>(reinterpret_cast<uintptr_t>(p) >> 4);
  std::memset(p, v, size);
}
bool Intact(const void* p, size_t size) {
  const auto v = static_cast<unsigned char>(reinterpret_cast<uintptr_t>(p) >> 4);
  const auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < size; ++i)
    if (c[i] != v) return false;
  return true;
}

// One 64-page slab of eight 32 KiB blocks: freeing seven parks their 56 pages.
TEST(SlabPark, PurgeParksThePagesOfFreeBlocksInsideASlab) {
  TempSegment ts(64 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  const uint32_t cls = ClassOf(32768);
  ASSERT_EQ(Class(cls).blocks, 8u);
  ASSERT_EQ(Class(cls).slab_pages, 64u);
  std::vector<void*> v;
  for (int i = 0; i < 8; ++i) {
    v.push_back(heap->Allocate(32768));
    Fill(v.back(), 32768);
  }
  ASSERT_EQ(LoadRelaxed(seg.central(cls).xnslabs), 1u);
  for (int i = 1; i < 8; ++i) heap->Free(v[i]);
  heap->FlushThreadCache();
  const uint64_t before = seg.ResidentBytes();
  const PurgeResult r = Purge(seg);
  EXPECT_EQ(ParkedPages(seg, cls), 56u);
  EXPECT_GE(r.released_bytes, 56u * kPageSize);
  EXPECT_LE(seg.ResidentBytes(), before - 56 * kPageSize);
  EXPECT_TRUE(Intact(v[0], 32768));
  ExpectValid(seg);
  ArenaStats s = CollectStats(seg);
  EXPECT_EQ(s.parked, 7u * 32768);
  EXPECT_GE(s.retained, 56u * kPageSize);
  EXPECT_EQ(s.allocated, 32768u);

  // A parked block freed again is a double free: refused, counted, nothing changes.
  const uint64_t doubles = s.double_frees;
  heap->Free(v[3]);
  EXPECT_EQ(CollectStats(seg).double_frees, doubles + 1);
  ExpectValid(seg);

  // They come back from the same slab, backed, and distinct.
  std::set<void*> again;
  for (int i = 1; i < 8; ++i) {
    void* p = heap->Allocate(32768);
    ASSERT_NE(p, nullptr);
    Fill(p, 32768);
    again.insert(p);
  }
  EXPECT_EQ(again, std::set<void*>(v.begin() + 1, v.end()));
  EXPECT_EQ(ParkedPages(seg, cls), 0u);
  EXPECT_TRUE(Intact(v[0], 32768));
  for (void* p : v) heap->Free(p);
  heap->FlushThreadCache();
  ExpectValid(seg);
}

// A double free of a block free in its slab, racing the purge that parks its page: the free
// reads the page's entry (a live slab page), then purge parks and punches the page, then
// the free reads the block's tag, which a punched page reads as zero. The window is made
// exact without touching the free path: the block's page is mapped PROT_NONE here, so the
// free's tag load faults, and the SIGSEGV handler maps it back and purges before the load
// runs again.
struct PurgeAtTagLoad {
  const Segment* seg = nullptr;
  char* page = nullptr;
  int faults = 0;
};
PurgeAtTagLoad purge_at_tag;

void PurgeOnFault(int, siginfo_t* info, void*) {
  char* at = static_cast<char*>(info->si_addr);
  if (purge_at_tag.page == nullptr || at < purge_at_tag.page || at >= purge_at_tag.page + kPageSize)
    _exit(5);  // a fault the test did not arrange
  ++purge_at_tag.faults;
  if (mprotect(purge_at_tag.page, kPageSize, PROT_READ | PROT_WRITE) != 0) _exit(6);
  purge_at_tag.page = nullptr;
  Purge(*purge_at_tag.seg);
}

TEST(SlabPark, ADoubleFreeRacingThePurgeOfItsPageIsRefused) {
  TempSegment ts(64 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  const uint32_t cls = ClassOf(32768);
  std::vector<void*> v;
  for (int i = 0; i < 8; ++i) v.push_back(heap->Allocate(32768));
  for (int i = 1; i < 8; ++i) heap->Free(v[i]);
  heap->FlushThreadCache();        // v[1..7] free on their slab's list, each page only theirs
  heap->Free(heap->Allocate(64));  // this thread holds a cache again: free's fast path
  ASSERT_EQ(ParkedPages(seg, cls), 0u);
  const uint64_t doubles = CollectStats(seg).double_frees;

  struct sigaction sa {
  }, old{};
  sa.sa_sigaction = PurgeOnFault;
  sa.sa_flags = SA_SIGINFO;
  ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);
  purge_at_tag = {.seg = &seg, .page = static_cast<char*>(v[3])};
  ASSERT_EQ(mprotect(v[3], kPageSize, PROT_NONE), 0);
  heap->Free(v[3]);  // the double free
  ASSERT_EQ(sigaction(SIGSEGV, &old, nullptr), 0);
  ASSERT_EQ(purge_at_tag.faults, 1) << "the free never read the block";
  ASSERT_EQ(ParkedPages(seg, cls), 56u) << "the purge inside the free parked the pages";

  EXPECT_EQ(CollectStats(seg).double_frees, doubles + 1) << "the double free was accepted";
  ExpectValid(seg);
  // Nothing is handed out twice: the seven free blocks come back once each.
  std::set<void*> again;
  for (int i = 0; i < 8; ++i)
    if (void* p = heap->Allocate(32768)) {
      EXPECT_TRUE(again.insert(p).second) << "a block handed out twice";
      Fill(p, 32768);
    }
  EXPECT_EQ(again.size(), 8u);
  EXPECT_EQ(again.count(v[0]), 0u);
  EXPECT_EQ(again.count(v[3]), 1u);
  for (void* p : again) heap->Free(p);
  heap->Free(v[0]);
  heap->FlushThreadCache();
  ExpectValid(seg);
}

// Classes whose blocks fit a page many times, span several pages, or straddle page
// boundaries: random survivors, purge, refill, and every survivor intact throughout.
class SlabParkClassTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(SlabParkClassTest, RandomSurvivorsPurgeAndRefill) {
  const uint32_t size = GetParam();
  TempSegment ts(256 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  const uint32_t cls = ClassOf(size);
  const uint32_t n = std::max<uint32_t>(2000, 16 * Class(cls).blocks);
  std::mt19937_64 rng(size);
  std::vector<void*> live;
  for (uint32_t i = 0; i < n; ++i) {
    void* p = heap->Allocate(size);
    ASSERT_NE(p, nullptr);
    Fill(p, size);
    live.push_back(p);
  }
  for (int round = 0; round < 3; ++round) {
    std::shuffle(live.begin(), live.end(), rng);
    const size_t keep = live.size() / 5;
    for (size_t i = keep; i < live.size(); ++i) heap->Free(live[i]);
    live.resize(keep);
    heap->FlushThreadCache();
    const uint64_t before = seg.ResidentBytes();
    const uint64_t parked_before = ParkedPages(seg, cls);
    Purge(seg);
    if (size >= kPageSize) {
      EXPECT_GT(ParkedPages(seg, cls), parked_before) << round;
    }
    EXPECT_LE(seg.ResidentBytes(), before);
    ExpectValid(seg);
    for (void* p : live) ASSERT_TRUE(Intact(p, size));
    std::set<void*> seen(live.begin(), live.end());
    while (live.size() < n) {
      void* p = heap->Allocate(size);
      ASSERT_NE(p, nullptr);
      ASSERT_TRUE(seen.insert(p).second) << "handed out twice";
      Fill(p, size);
      live.push_back(p);
    }
    for (void* p : live) ASSERT_TRUE(Intact(p, size));
    ExpectValid(seg);
  }
  for (void* p : live) heap->Free(p);
  heap->FlushThreadCache();
  Purge(seg);
  ExpectValid(seg);
  EXPECT_EQ(LoadRelaxed(seg.central(cls).xnslabs), 0u);
  EXPECT_EQ(ParkedPages(seg, cls), 0u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SlabParkClassTest,
                         ::testing::Values(16u, 128u, 1280u, 2560u, 3072u, 5120u, 10240u, 20480u,
                                           28672u, 32768u));

// A park or unpark cut short at each of its steps, then the class repair: validate-clean,
// and every block comes back exactly once.
TEST(SlabPark, RepairFinishesAParkOrUndoesAnUnparkCutShort) {
  TempSegment ts(64 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  const uint32_t cls = ClassOf(20480);
  const SizeClassInfo& info = Class(cls);
  std::vector<void*> v;
  for (uint32_t i = 0; i < 3 * info.blocks; ++i) v.push_back(heap->Allocate(20480));
  // Keep the first block of v[0]'s slab; free everything else.
  const uint32_t slab =
      PageEntry::StartOf(LoadRelaxed(seg.page_entry(seg.page_of(heap->RefOf(v[0])))));
  const uint64_t first = seg.page_offset(slab);
  void* keep = heap->PtrOf(first);
  ASSERT_NE(std::find(v.begin(), v.end(), keep), v.end());
  for (void* p : v)
    if (p != keep) heap->Free(p);
  heap->FlushThreadCache();
  DrainRing(seg, cls);
  ExpectValid(seg);
  ASSERT_EQ(seg.run(slab).free_count, info.blocks - 1);

  // Park cut after the entries were marked: blocks on them are still listed.
  const uint32_t last = seg.run(slab).pages - 1;
  StoreRelaxed(seg.page_entry(slab + last), PageEntry::MakeParked(cls, slab));
  EXPECT_FALSE(Validate(seg).ok());
  RepairClass(seg, cls);
  ExpectValid(seg);
  EXPECT_EQ(ParkedPages(seg, cls), 1u);
  EXPECT_GT(seg.run(slab).parked, 0u);

  // Unpark cut after the blocks were spliced onto the list, before the page went live.
  const uint64_t b = first + uint64_t{info.blocks - 1} * info.size;  // on the parked page
  ASSERT_TRUE(seg.Back(seg.page_offset(slab + last), kPageSize));
  seg.block(b).next = seg.run(slab).free_head;
  seg.block(b).tag = seg.free_tag(b);
  seg.run(slab).free_head = b;
  ++seg.run(slab).free_count;
  RepairClass(seg, cls);
  ExpectValid(seg);
  EXPECT_EQ(ParkedPages(seg, cls), 1u);

  // Unpark cut after the page went live, before the counts: the recount sets them.
  const uint32_t parked_blocks = seg.run(slab).parked;
  std::vector<uint64_t> on_page;
  for (uint32_t k = 0; k < info.blocks; ++k) {
    const uint64_t off = first + uint64_t{k} * info.size;
    if (((uint64_t{k + 1} * info.size - 1) >> kPageShift) == last) on_page.push_back(off);
  }
  ASSERT_EQ(on_page.size(), parked_blocks);
  for (uint64_t off : on_page) {
    seg.block(off).next = seg.run(slab).free_head;
    seg.block(off).tag = seg.free_tag(off);
    seg.run(slab).free_head = off;
    ++seg.run(slab).free_count;
  }
  StoreRelaxed(seg.page_entry(slab + last), PageEntry::Make(cls, kPageSlab, slab));
  RepairClass(seg, cls);
  ExpectValid(seg);
  EXPECT_EQ(ParkedPages(seg, cls), 0u);
  EXPECT_EQ(seg.run(slab).parked, 0u);

  // Every block comes back once: the slab refills exactly.
  std::set<void*> got, want;
  for (uint32_t k = 1; k < info.blocks; ++k) want.insert(heap->PtrOf(first + k * info.size));
  for (uint32_t i = 1; i < info.blocks; ++i) ASSERT_TRUE(got.insert(heap->Allocate(20480)).second);
  EXPECT_EQ(got, want);
  for (void* p : got) heap->Free(p);
  heap->Free(keep);
  heap->FlushThreadCache();
  ExpectValid(seg);
}

// The segment map shows parked slab pages as purged; purges are counted by reason.
TEST(SlabPark, SegmentMapShowsParkedPagesAsPurged) {
  TempSegment ts(64 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (int i = 0; i < 8; ++i) v.push_back(heap->Allocate(32768));
  for (int i = 1; i < 8; ++i) heap->Free(v[i]);
  heap->FlushThreadCache();
  Purge(seg, PurgeReason::kDecay);
  const ArenaStats s = CollectStats(seg);
  EXPECT_EQ(s.purge_count, 1u);
  EXPECT_EQ(s.purges_by_reason, (std::array<uint64_t, 3>{0, 1, 0}));
  const SegmentMap map = ReadSegmentMap(seg);
  const std::vector<MapCell> cells = MapCells(map, 1);
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].pages[static_cast<size_t>(RunState::kPurged)], 56u);
  EXPECT_EQ(cells[0].pages[static_cast<size_t>(RunState::kPartial)], 8u);
  heap->Free(v[0]);
}

// Threads allocate, write, check and free while another purges over and over.
TEST(SlabPark, PurgesRaceWithAllocationAndFree) {
  TempSegment ts(256 << 20);
  const Segment& seg = *ts.segment();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> corrupt{0}, failed{0};
  auto heap = *Heap::Attach(ts.segment());  // one per process; each thread has its cache
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      const size_t sizes[] = {48, 1280, 3072, 5120, 20480, 32768};
      std::vector<std::pair<void*, size_t>> live;
      for (int i = 0; i < 20000; ++i) {
        if (live.size() < 400 && rng() % 2) {
          const size_t size = sizes[rng() % 6];
          void* p = heap->Allocate(size);
          if (!p) {
            ++failed;
            continue;
          }
          Fill(p, size);
          live.emplace_back(p, size);
        } else if (!live.empty()) {
          const size_t k = rng() % live.size();
          if (!Intact(live[k].first, live[k].second)) ++corrupt;
          heap->Free(live[k].first);
          live[k] = live.back();
          live.pop_back();
        }
        if (i % 1000 == 0) heap->FlushThreadCache();
      }
      for (auto [p, size] : live) {
        if (!Intact(p, size)) ++corrupt;
        heap->Free(p);
      }
    });
  }
  std::thread purger([&] {
    while (!stop.load()) Purge(seg);
  });
  for (auto& w : workers) w.join();
  stop = true;
  purger.join();
  EXPECT_EQ(corrupt.load(), 0u);
  EXPECT_EQ(failed.load(), 0u);
  Purge(seg);
  ExpectValid(seg);
  EXPECT_EQ(CollectStats(seg).allocated, 0u);
  EXPECT_EQ(CollectStats(seg).double_frees, 0u);
}

}  // namespace
}  // namespace shmpool::shm
