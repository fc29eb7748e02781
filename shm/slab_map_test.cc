#include "shm/slab_map.h"

#include <numeric>

#include "gtest/gtest.h"
#include "shm/page_heap.h"
#include "shm/slab_layer.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

constexpr uint64_t kCapacity = 16 << 20;

uint64_t PagesIn(const SegmentMap& m, RunState s) {
  uint64_t n = 0;
  for (const MapRun& r : m.runs)
    if (r.state == s) n += r.pages;
  return n;
}

TEST(SlabMap, FreshSegmentIsAllUnused) {
  testing::TempSegment t(kCapacity);
  const SegmentMap m = ReadSegmentMap(*t.segment());
  EXPECT_EQ(m.pages, kCapacity / kPageSize);
  ASSERT_EQ(m.runs.size(), 1u);
  EXPECT_EQ(m.runs[0].state, RunState::kUnused);
  EXPECT_EQ(m.runs[0].pages, m.pages);
}

TEST(SlabMap, ShowsSlabsLargeFreeAndPurgedRunsAndFill) {
  testing::TempSegment t(kCapacity);
  const Segment& seg = *t.segment();
  const uint32_t cls = ClassOf(64);
  const SizeClassInfo& info = Class(cls);
  Transit tr{};
  uint64_t head = 0;
  // One slab half used (decile 5), one full (decile 9).
  ASSERT_EQ(TakeBlocks(seg, cls, info.blocks + info.blocks / 2, tr, &head),
            info.blocks + info.blocks / 2);
  const uint32_t large = AllocRun(seg, 3, kPageLarge, 0);
  const uint32_t gone = AllocRun(seg, 5, kPageLarge, 0);
  const uint32_t kept = AllocRun(seg, 2, kPageLarge, 0);  // keeps `gone` off the frontier
  ASSERT_NE(large, kNoRun);
  ASSERT_NE(kept, kNoRun);
  ASSERT_TRUE(FreeRun(seg, gone, kPageLarge));

  SegmentMap m = ReadSegmentMap(seg);
  EXPECT_EQ(PagesIn(m, RunState::kFull), info.slab_pages);
  EXPECT_EQ(PagesIn(m, RunState::kPartial), info.slab_pages);
  EXPECT_EQ(PagesIn(m, RunState::kLarge), 5u);
  EXPECT_EQ(PagesIn(m, RunState::kFree), 5u);
  EXPECT_EQ(PagesIn(m, RunState::kPurged), 0u);
  uint64_t covered = 0;
  for (const MapRun& r : m.runs) {
    EXPECT_EQ(r.first_page, covered) << "runs must tile the pages in order";
    covered += r.pages;
  }
  EXPECT_EQ(covered, m.pages);

  const FillHistogram h = SlabFillHistogram(seg);
  EXPECT_EQ(h[cls][5], 1u);
  EXPECT_EQ(h[cls][9], 1u);
  EXPECT_EQ(std::accumulate(h[cls].begin(), h[cls].end(), uint64_t{0}), 2u);

  PurgeFreePages(seg);
  m = ReadSegmentMap(seg);
  EXPECT_EQ(PagesIn(m, RunState::kFree), 0u);
  EXPECT_EQ(PagesIn(m, RunState::kPurged), 5u);

  uint64_t span = 0;
  const std::vector<MapCell> cells = MapCells(m, 8, &span);  // the used pages only
  ASSERT_EQ(cells.size(), (m.frontier + span - 1) / span);
  ASSERT_LE(cells.size(), 8u);
  uint64_t total = 0;
  for (const MapCell& c : cells)
    for (uint32_t n : c.pages) total += n;
  EXPECT_EQ(total, m.frontier);
  // One cell over everything: one full and one half-used slab of equal size.
  const std::vector<MapCell> one = MapCells(m, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[0].slab_fill, 0.75, 0.01);
}

}  // namespace
}  // namespace shmpool::shm
