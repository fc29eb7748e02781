#include "shm/live_block.h"

#include "shm/atomics.h"
#include "shm/layout.h"
#include "shm/sanitizer.h"

namespace shmpool::shm {

size_t LiveBlockSize(const Heap& heap, const void* p) {
  const Segment& seg = heap.segment();
  const uint64_t off = heap.RefOf(p);
  const uint64_t data = seg.sections().data;
  if (p == nullptr || off < data) return 0;
  const uint64_t rel = off - data;
  const uint64_t page = rel >> kPageShift;
  if (page >= LoadRelaxed(seg.header().heap.xfrontier_pages)) return 0;
  const std::atomic<uint64_t>& entry = seg.page_entry(page);
  for (;;) {
    // Acquire: pairs with the refill that made the page a slab again (its tags first).
    const uint64_t e = LoadAcquire(entry);
    if (PageEntry::KindOf(e) == kPageLarge)
      return rel == PageEntry::StartBytes(e)
                 ? size_t{seg.run(PageEntry::StartOf(e)).pages} << kPageShift
                 : 0;
    const SizeClassInfo& info = Class(PageEntry::ClassOf(e));  // class 0: not a live slab
    if (!IsBlockStart(rel - PageEntry::StartBytes(e), info) || IsPoisoned(p)) return 0;
    if (static_cast<const FreeBlock*>(p)->tag == seg.free_tag(off)) return 0;
    // As in free(): a page parked after the entry was read reads as zero, not the tag.
    AcquireFence();
    if (LoadRelaxed(entry) == e) return info.size;
  }
}

}  // namespace shmpool::shm
