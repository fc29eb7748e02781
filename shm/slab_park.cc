#include "shm/slab_park.h"

#include <bit>
#include <bitset>

#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/slab_lists.h"

namespace shmpool::shm {
namespace {

constexpr uint32_t kMaxSlabPages = 64;
constexpr uint32_t kMaxSlabBlocks = kMaxSlabPages * kPageSize / kMinBlock;

bool IsParked(const Segment& seg, uint32_t page) {
  return PageEntry::Parked(LoadRelaxed(seg.page_entry(page)));
}

// Slab-relative pages block k touches: [first, last].
uint32_t FirstPage(const SizeClassInfo& info, uint32_t k) {
  return static_cast<uint32_t>((uint64_t{k} * info.size) >> kPageShift);
}
uint32_t LastPage(const SizeClassInfo& info, uint32_t k) {
  return static_cast<uint32_t>((uint64_t{k + 1} * info.size - 1) >> kPageShift);
}

// Blocks touching slab-relative page i: [*lo, *hi]; false when none does (the tail).
bool BlocksOn(const SizeClassInfo& info, uint32_t i, uint32_t* lo, uint32_t* hi) {
  *lo = static_cast<uint32_t>((uint64_t{i} << kPageShift) / info.size);
  if (*lo >= info.blocks) return false;
  *hi = static_cast<uint32_t>(
      std::min<uint64_t>(info.blocks - 1, ((uint64_t{i + 1} << kPageShift) - 1) / info.size));
  return true;
}

// True when block k touches a parked page other than slab-relative page `except`.
bool TouchesParked(const Segment& seg, uint32_t slab, const SizeClassInfo& info, uint32_t k,
                   uint32_t except = ~uint32_t{0}) {
  for (uint32_t p = FirstPage(info, k); p <= LastPage(info, k); ++p)
    if (p != except && IsParked(seg, slab + p)) return true;
  return false;
}

uint32_t CountParkedBlocks(const Segment& seg, uint32_t slab, const SizeClassInfo& info) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < info.blocks; ++k) n += TouchesParked(seg, slab, info, k) ? 1 : 0;
  return n;
}

// The index of block `b` in the slab; a chain that leaves the slab is corrupt.
uint32_t IndexOf(const Segment& seg, uint32_t slab, const SizeClassInfo& info, uint64_t b) {
  const uint64_t first = seg.page_offset(slab);
  SHMPOOL_CHECK(b >= first && (b - first) % info.size == 0 &&
                (b - first) / info.size < info.blocks);
  return static_cast<uint32_t>((b - first) / info.size);
}

// Rewrites the slab's free list without the blocks that touch a parked page, in place and
// in order (see the crash argument); sets free_count.
void DropParkedFromList(const Segment& seg, uint32_t slab, const SizeClassInfo& info) {
  RunMeta& r = seg.run(slab);
  uint64_t head = 0, tail = 0;
  uint32_t kept = 0, steps = 0;
  for (uint64_t b = r.free_head; b;) {
    SHMPOOL_CHECK(++steps <= info.blocks);
    const uint64_t next = seg.block(b).next;
    if (!TouchesParked(seg, slab, info, IndexOf(seg, slab, info, b))) {
      if (tail)
        seg.block(tail).next = b;
      else
        head = b;
      tail = b;
      ++kept;
    }
    b = next;
  }
  if (tail) seg.block(tail).next = 0;
  r.free_head = head;
  r.free_count = kept;
}

// Punches every page of `mask` (slab-relative), run by run.
void PunchPages(const Segment& seg, uint32_t slab, uint32_t pages, uint64_t mask) {
  for (uint32_t i = 0; i < pages;) {
    if (!(mask >> i & 1)) {
      ++i;
      continue;
    }
    uint32_t j = i;
    while (j < pages && (mask >> j & 1)) ++j;
    seg.PunchHole(seg.page_offset(slab + i), uint64_t{j - i} << kPageShift);
    i = j;
  }
}

uint64_t ParkedMask(const Segment& seg, uint32_t slab, uint32_t pages) {
  uint64_t mask = 0;
  for (uint32_t i = 0; i < pages; ++i)
    if (IsParked(seg, slab + i)) mask |= uint64_t{1} << i;
  return mask;
}

}  // namespace

uint32_t ParkSlabPages(const Segment& seg, uint32_t cls, uint32_t slab) {
  const SizeClassInfo& info = Class(cls);
  RunMeta& r = seg.run(slab);
  SHMPOOL_CHECK(r.pages <= kMaxSlabPages);
  if (r.pages < 2 || r.free_count == 0) return 0;  // a one-page slab goes back whole
  std::bitset<kMaxSlabBlocks> free;
  uint32_t steps = 0;
  for (uint64_t b = r.free_head; b && steps++ < info.blocks; b = seg.block(b).next)
    free.set(IndexOf(seg, slab, info, b));
  const uint64_t parked_before = ParkedMask(seg, slab, r.pages);
  if (parked_before)
    for (uint32_t k = 0; k < info.blocks; ++k)
      if (TouchesParked(seg, slab, info, k)) free.set(k);
  uint64_t mask = 0;
  for (uint32_t i = 0; i < r.pages; ++i) {
    if (parked_before >> i & 1) continue;
    uint32_t lo, hi;
    bool all_free = true;
    if (BlocksOn(info, i, &lo, &hi))
      for (uint32_t k = lo; k <= hi && all_free; ++k) all_free = free.test(k);
    if (all_free) mask |= uint64_t{1} << i;
  }
  if (mask == 0) return 0;
  ClassCentral& c = seg.central(cls);
  const SlabList was = ListFor(r, info);
  const uint32_t blocks_before = r.parked;
  // Stored before the punch: a free that reads a punched page's zeros after its first read
  // of the entry reads the parked entry when it checks the entry again (heap.h). What
  // orders the store before the punch is the fallocate call (opaque to the compiler; the
  // kernel's unmapping of the page is a full barrier), not the release, which orders the
  // class's earlier stores before the entry.
  for (uint32_t i = 0; i < r.pages; ++i)
    if (mask >> i & 1) StoreRelease(seg.page_entry(slab + i), PageEntry::MakeParked(cls, slab));
  DropParkedFromList(seg, slab, info);
  PunchPages(seg, slab, r.pages, mask);
  const uint32_t n = static_cast<uint32_t>(std::popcount(mask));
  r.parked = CountParkedBlocks(seg, slab, info);
  r.backed_pages -= n;
  FetchAddRelaxed(c.xparked_pages, uint64_t{n});
  FetchAddRelaxed(c.xparked_blocks, uint64_t{r.parked - blocks_before});
  Relist(seg, cls, slab, was);
  return n;
}

uint32_t UnparkBlocks(const Segment& seg, uint32_t cls, uint32_t slab, uint32_t want) {
  const SizeClassInfo& info = Class(cls);
  ClassCentral& c = seg.central(cls);
  RunMeta& r = seg.run(slab);
  const SlabList was = ListFor(r, info);
  const uint64_t first = seg.page_offset(slab);
  uint32_t got = 0;
  for (uint32_t i = 0; i < r.pages && got < want; ++i) {
    if (!IsParked(seg, slab + i)) continue;
    if (!seg.Back(seg.page_offset(slab + i), kPageSize)) break;
    // The blocks on page i that touch no other parked page, as a chain in address order.
    uint64_t head = 0, tail = 0;
    uint32_t n = 0, lo, hi;
    if (BlocksOn(info, i, &lo, &hi)) {
      for (uint32_t k = hi + 1; k-- > lo;) {
        if (TouchesParked(seg, slab, info, k, i)) continue;
        const uint64_t off = first + uint64_t{k} * info.size;
        FreeBlock& b = seg.block(off);
        b.next = head;
        b.tag = seg.free_tag(off);
        head = off;
        if (!tail) tail = off;
        ++n;
      }
    }
    if (n) {
      seg.block(tail).next = r.free_head;
      r.free_head = head;
      r.free_count += n;
      r.parked -= n;
    }
    // Release: the blocks' tags are stored before a free can see the live entry.
    StoreRelease(seg.page_entry(slab + i), PageEntry::Make(cls, kPageSlab, slab));
    ++r.backed_pages;
    FetchAddRelaxed(c.xparked_pages, -uint64_t{1});
    FetchAddRelaxed(c.xparked_blocks, -uint64_t{n});
    got += n;
  }
  Relist(seg, cls, slab, was);
  return got;
}

uint32_t RepairSlabParking(const Segment& seg, uint32_t cls, uint32_t slab,
                           uint32_t* parked_blocks) {
  const SizeClassInfo& info = Class(cls);
  RunMeta& r = seg.run(slab);
  SHMPOOL_CHECK(r.pages <= kMaxSlabPages);
  const uint64_t mask = ParkedMask(seg, slab, r.pages);
  DropParkedFromList(seg, slab, info);
  r.parked = mask ? CountParkedBlocks(seg, slab, info) : 0;
  const uint32_t n = static_cast<uint32_t>(std::popcount(mask));
  r.backed_pages = r.pages - n;
  PunchPages(seg, slab, r.pages, mask);
  *parked_blocks = r.parked;
  return n;
}

}  // namespace shmpool::shm
