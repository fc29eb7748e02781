#include "shm/slab_layer.h"

#include <algorithm>

#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/page_heap.h"

namespace shmpool::shm {
namespace {

void PushPartial(const Segment& seg, ClassCentral& c, uint32_t slab) {
  RunMeta& r = seg.run(slab);
  r.prev = 0;
  r.next = c.partial_head;
  if (r.next) seg.run(r.next - 1).prev = slab + 1;
  c.partial_head = slab + 1;
}

void UnlinkPartial(const Segment& seg, ClassCentral& c, uint32_t slab) {
  RunMeta& r = seg.run(slab);
  if (r.prev)
    seg.run(r.prev - 1).next = r.next;
  else
    c.partial_head = r.next;
  if (r.next) seg.run(r.next - 1).prev = r.prev;
  r.prev = r.next = 0;
}

// Makes a new slab of `cls` with every block free and tagged; false when out of memory.
bool NewSlab(const Segment& seg, uint32_t cls) {
  const SizeClassInfo& info = Class(cls);
  const uint32_t start = AllocRun(seg, info.slab_pages, kPageSlab, cls);
  if (start == kNoRun) return false;
  const uint64_t first = seg.page_offset(start);
  for (uint32_t i = 0; i < info.blocks; ++i) {
    const uint64_t off = first + uint64_t{i} * info.size;
    FreeBlock& b = seg.block(off);
    b.next = i + 1 < info.blocks ? off + info.size : 0;
    b.tag = seg.free_tag(off);
  }
  RunMeta& r = seg.run(start);
  r.free_head = first;
  r.free_count = info.blocks;
  ClassCentral& c = seg.central(cls);
  PushPartial(seg, c, start);
  FetchAddRelaxed(c.xnslabs, uint64_t{1});
  FetchAddRelaxed(c.xslabs_created, uint64_t{1});
  FetchAddRelaxed(c.xfree_in_slabs, uint64_t{info.blocks});
  return true;
}

// The slab (first page) holding block `off` of class `cls`; checks the page map agrees.
uint32_t SlabOf(const Segment& seg, uint32_t cls, uint64_t off) {
  SHMPOOL_CHECK(off >= seg.sections().data && off < seg.sections().total);
  const uint64_t e = LoadRelaxed(seg.page_entry(seg.page_of(off)));
  SHMPOOL_CHECK(PageEntry::KindOf(e) == kPageSlab && PageEntry::ClassOf(e) == cls);
  return PageEntry::StartOf(e);
}

}  // namespace

void RepairClass(const Segment& seg, uint32_t cls) {
  ClassCentral& c = seg.central(cls);
  const SizeClassInfo& info = Class(cls);
  c.partial_head = 0;
  uint64_t nslabs = 0, free_blocks = 0;
  PageHeapState& h = seg.header().heap;
  RobustLock heap_lock(h.mutex, [&] { RepairPageHeap(seg); });
  for (uint32_t p = 0; p < h.frontier;) {
    const uint64_t e = LoadRelaxed(seg.page_entry(p));
    RunMeta& r = seg.run(p);
    const uint32_t n = r.pages;  // p is always a run's first page
    if (PageEntry::KindOf(e) == kPageSlab && PageEntry::ClassOf(e) == cls) {
      uint32_t count = 0;
      for (uint64_t b = r.free_head; b && count <= info.blocks; b = seg.block(b).next) {
        SHMPOOL_CHECK(SlabOf(seg, cls, b) == p);
        ++count;
      }
      SHMPOOL_CHECK(count <= info.blocks);
      r.free_count = count;
      if (count) PushPartial(seg, c, p);
      ++nslabs;
      free_blocks += count;
    }
    SHMPOOL_CHECK(n > 0);
    p += n;
  }
  StoreRelaxed(c.xnslabs, nslabs);
  StoreRelaxed(c.xfree_in_slabs, free_blocks);
}

uint32_t TakeBlocks(const Segment& seg, uint32_t cls, uint32_t want, Transit& transit,
                    uint64_t* head) {
  ClassCentral& c = seg.central(cls);
  RobustLock lock(c.mutex, [&] { RepairClass(seg, cls); });
  StoreRelaxed(transit.xbatch, uint64_t{0});
  uint64_t out = 0, tail = 0;
  uint32_t n = 0;
  while (n < want) {
    if (!c.partial_head && !NewSlab(seg, cls)) break;
    const uint32_t slab = c.partial_head - 1;
    RunMeta& r = seg.run(slab);
    const uint32_t k = std::min(want - n, r.free_count);
    uint64_t last = r.free_head;
    for (uint32_t i = 1; i < k; ++i) last = seg.block(last).next;
    // Link first, record, then cut: a crash leaves the blocks in the slab (found there).
    if (tail)
      seg.block(tail).next = r.free_head;
    else
      out = r.free_head;
    StoreRelaxed(transit.xbatch, out);
    r.free_head = seg.block(last).next;
    seg.block(last).next = 0;
    tail = last;
    r.free_count -= k;
    n += k;
    FetchAddRelaxed(c.xfree_in_slabs, -uint64_t{k});
    if (r.free_count == 0) UnlinkPartial(seg, c, slab);
  }
  *head = out;
  return n;
}

void ReturnBlocks(const Segment& seg, uint32_t cls, uint64_t head, Transit& transit) {
  ClassCentral& c = seg.central(cls);
  const SizeClassInfo& info = Class(cls);
  RobustLock lock(c.mutex, [&] { RepairClass(seg, cls); });
  StoreRelaxed(transit.xbatch, head);
  for (uint64_t b = head; b;) {
    const uint64_t next = seg.block(b).next;
    const uint32_t slab = SlabOf(seg, cls, b);
    RunMeta& r = seg.run(slab);
    seg.block(b).next = r.free_head;
    r.free_head = b;
    StoreRelaxed(transit.xbatch, next);  // b is home: recovery resumes from next
    FetchAddRelaxed(c.xfree_in_slabs, uint64_t{1});
    if (++r.free_count == 1) PushPartial(seg, c, slab);
    if (r.free_count == info.blocks) {
      UnlinkPartial(seg, c, slab);
      FetchAddRelaxed(c.xfree_in_slabs, -uint64_t{info.blocks});
      FetchAddRelaxed(c.xnslabs, -uint64_t{1});
      FetchAddRelaxed(c.xslabs_released, uint64_t{1});
      SHMPOOL_CHECK(FreeRun(seg, slab, kPageSlab));
    }
    b = next;
  }
}

}  // namespace shmpool::shm
