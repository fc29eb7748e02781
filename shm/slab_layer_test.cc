// The slab layer's contracts (slab_layer.h), called directly as the uncached path calls it
// (the class's own Transit, its fallback counters, so Validate's balance holds): TakeBlocks
// hands out distinct block starts of its class and counts them; it serves the fullest
// partial slab first; a slab whose blocks all come home goes back to the page heap at once;
// ParkFreePages punches the pages only free blocks touch, and refills use the resident free
// blocks before they unpark a page.
#include "shm/slab_layer.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

const uint32_t kCls = ClassOf(64);

void ClearTransit(Transit& t) {
  StoreRelaxed(t.xop, static_cast<uint32_t>(Transit::kNone));
  StoreRelaxed(t.xbatch, uint64_t{0});
  StoreRelaxed(t.xpos, uint64_t{0});
}

// Takes `n` blocks of kCls (counted as the uncached path counts them); their offsets.
std::vector<uint64_t> Take(const Segment& seg, uint32_t n) {
  ClassCentral& c = seg.central(kCls);
  uint64_t head = 0;
  const uint32_t got = TakeBlocks(seg, kCls, n, c.transit, &head);
  ClearTransit(c.transit);
  FetchAddRelaxed(c.xnmalloc, uint64_t{got});
  std::vector<uint64_t> out;
  for (uint64_t b = head; b; b = seg.block(b).next) out.push_back(b);
  EXPECT_EQ(out.size(), got);
  return out;
}

// Returns blocks taken by Take, tagged free, in chains of at most a batch.
void Return(const Segment& seg, const std::vector<uint64_t>& blocks) {
  ClassCentral& c = seg.central(kCls);
  for (size_t i = 0; i < blocks.size(); i += Class(kCls).batch) {
    const size_t end = std::min(blocks.size(), i + Class(kCls).batch);
    for (size_t j = i; j < end; ++j) {
      seg.block(blocks[j]).next = j + 1 < end ? blocks[j + 1] : 0;
      seg.block(blocks[j]).tag = seg.free_tag(blocks[j]);
    }
    ReturnBlocks(seg, kCls, blocks[i], c.transit);
    ClearTransit(c.transit);
  }
  FetchAddRelaxed(c.xnfree, uint64_t{blocks.size()});
}

// The first page of the slab that holds block `b`.
uint32_t SlabOf(const Segment& seg, uint64_t b) {
  return PageEntry::StartOf(LoadRelaxed(seg.page_entry(seg.page_of(b))));
}

void ExpectValid(const Segment& seg) {
  const ValidationReport r = Validate(seg);
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST(SlabLayer, TakeBlocksHandsOutDistinctBlocksOfItsClassAndCountsThem) {
  TempSegment ts(4 << 20);
  const Segment& seg = *ts.segment();
  const SizeClassInfo& info = Class(kCls);
  const uint32_t n = info.blocks + info.blocks / 2;  // a slab and a half
  const std::vector<uint64_t> blocks = Take(seg, n);
  ASSERT_EQ(blocks.size(), n);
  EXPECT_EQ(std::set<uint64_t>(blocks.begin(), blocks.end()).size(), n);
  for (uint64_t b : blocks) {
    const uint64_t e = LoadRelaxed(seg.page_entry(seg.page_of(b)));
    ASSERT_EQ(PageEntry::KindOf(e), kPageSlab);
    ASSERT_EQ(PageEntry::SlabClassOf(e), kCls);
    ASSERT_TRUE(IsBlockStart(b - seg.page_offset(PageEntry::StartOf(e)), info)) << b;
  }
  const ClassCentral& c = seg.central(kCls);
  EXPECT_EQ(LoadRelaxed(c.xnslabs), 2u);
  EXPECT_EQ(LoadRelaxed(c.xfree_in_slabs), 2u * info.blocks - n);
  ExpectValid(seg);

  Return(seg, blocks);
  EXPECT_EQ(LoadRelaxed(c.xnslabs), 0u) << "each slab went back as its last block came home";
  EXPECT_EQ(LoadRelaxed(c.xfree_in_slabs), 0u);
  EXPECT_EQ(LoadRelaxed(c.xslabs_released), LoadRelaxed(c.xslabs_created));
  EXPECT_EQ(ReleaseEmptySlabs(seg, kCls), 0u) << "nothing left for purge to release";
  ExpectValid(seg);
}

TEST(SlabLayer, TakeBlocksServesTheFullestPartialSlabFirst) {
  TempSegment ts(4 << 20);
  const Segment& seg = *ts.segment();
  const uint32_t per_slab = Class(kCls).blocks;
  std::vector<uint64_t> blocks = Take(seg, per_slab + 2);  // slab A full, slab B: 2 used
  ASSERT_EQ(blocks.size(), per_slab + 2);
  const uint32_t slab_a = SlabOf(seg, blocks.front());
  const uint32_t slab_b = SlabOf(seg, blocks.back());
  ASSERT_NE(slab_a, slab_b);
  // One block home to each: A is the fullest partial slab (one free), B nearly empty.
  const auto in_a = std::find_if(blocks.begin(), blocks.end(),
                                 [&](uint64_t b) { return SlabOf(seg, b) == slab_a; });
  const auto in_b = std::find_if(blocks.begin(), blocks.end(),
                                 [&](uint64_t b) { return SlabOf(seg, b) == slab_b; });
  const uint64_t a = *in_a, b = *in_b;
  Return(seg, {a});
  Return(seg, {b});
  blocks.erase(
      std::remove_if(blocks.begin(), blocks.end(), [&](uint64_t x) { return x == a || x == b; }),
      blocks.end());
  const std::vector<uint64_t> next = Take(seg, 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0], a) << "the fullest partial slab serves first";
  const std::vector<uint64_t> after = Take(seg, 1);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(SlabOf(seg, after[0]), slab_b) << "A is full again: B serves";
  ExpectValid(seg);
  blocks.push_back(next[0]);
  blocks.push_back(after[0]);
  Return(seg, blocks);
  EXPECT_EQ(LoadRelaxed(seg.central(kCls).xnslabs), 0u);
  ExpectValid(seg);
}

TEST(SlabLayer, ParkedPagesGoBackToTheFileAndRefillsUseResidentBlocksFirst) {
  TempSegment ts(4 << 20);
  const Segment& seg = *ts.segment();
  const SizeClassInfo& info = Class(kCls);
  ASSERT_GE(info.slab_pages, 2u);
  const uint32_t per_page = kPageSize / info.size;
  std::vector<uint64_t> blocks = Take(seg, info.blocks);  // one whole slab
  ASSERT_EQ(blocks.size(), info.blocks);
  std::sort(blocks.begin(), blocks.end());
  // Keep 8 blocks on the slab's first page; every other page holds only free blocks.
  const std::vector<uint64_t> kept(blocks.begin(), blocks.begin() + 8);
  Return(seg, std::vector<uint64_t>(blocks.begin() + 8, blocks.end()));
  const uint64_t resident_before = seg.ResidentBytes();
  const ClassCentral& c = seg.central(kCls);
  EXPECT_EQ(ParkFreePages(seg, kCls), info.slab_pages - 1);
  EXPECT_EQ(LoadRelaxed(c.xparked_pages), info.slab_pages - 1);
  EXPECT_EQ(LoadRelaxed(c.xparked_blocks), (info.slab_pages - 1) * per_page);
  EXPECT_LE(seg.ResidentBytes() + (info.slab_pages - 1) * kPageSize, resident_before);
  ExpectValid(seg);

  // The first page's free blocks come first; the parked pages stay parked meanwhile.
  std::vector<uint64_t> taken = Take(seg, per_page - 8);
  for (uint64_t b : taken) EXPECT_EQ(seg.page_of(b), seg.page_of(kept[0])) << b;
  EXPECT_EQ(LoadRelaxed(c.xparked_pages), info.slab_pages - 1);
  // Then a parked page comes back, backed: its block can be written.
  const std::vector<uint64_t> unparked = Take(seg, 1);
  ASSERT_EQ(unparked.size(), 1u);
  EXPECT_NE(seg.page_of(unparked[0]), seg.page_of(kept[0]));
  EXPECT_LT(LoadRelaxed(c.xparked_pages), info.slab_pages - 1);
  std::memset(seg.base() + unparked[0], 0x5a, info.size);
  ExpectValid(seg);

  taken.insert(taken.end(), kept.begin(), kept.end());
  taken.push_back(unparked[0]);
  Return(seg, taken);
  EXPECT_EQ(LoadRelaxed(c.xnslabs), 0u) << "free blocks, listed or parked: the slab went back";
  EXPECT_EQ(LoadRelaxed(c.xparked_pages), 0u);
  ExpectValid(seg);
}

}  // namespace
}  // namespace shmpool::shm
