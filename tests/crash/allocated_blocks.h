// AllocatedBlocks: every allocated block of a segment, found by walking its page map: the
// blocks of each slab that are neither on the slab's free list nor on a parked page (a
// page purge punched out: every block touching it is free, slab_park.h), and the large
// runs. Exact only when every free small block is in a slab chain or parked: no cache
// holds any and the rings are drained (shm::Purge drains them).
#pragma once

#include <cstdint>
#include <vector>

#include "shm/atomics.h"
#include "shm/segment.h"

namespace shmpool::crash {

// The blocks of the slab at page `p` (class `cls`) that are allocated.
inline void AllocatedInSlab(const shm::Segment& seg, uint64_t p, uint32_t cls,
                            std::vector<uint64_t>* out) {
  const shm::SizeClassInfo& info = shm::Class(cls);
  const uint64_t first = seg.page_offset(p);
  std::vector<bool> free(info.blocks);
  uint32_t n = 0;
  for (uint64_t b = seg.run(p).free_head; b && n++ < info.blocks; b = seg.block(b).next)
    free[(b - first) / info.size] = true;
  for (uint32_t i = 0; i < info.blocks; ++i) {
    const uint64_t from = uint64_t{i} * info.size, to = from + info.size - 1;
    for (uint64_t page = from >> shm::kPageShift; page <= to >> shm::kPageShift; ++page)
      if (shm::PageEntry::Parked(shm::LoadRelaxed(seg.page_entry(p + page)))) free[i] = true;
    if (!free[i]) out->push_back(first + from);
  }
}

inline std::vector<uint64_t> AllocatedBlocks(const shm::Segment& seg) {
  const uint64_t frontier = shm::LoadRelaxed(seg.header().heap.xfrontier_pages);
  std::vector<uint64_t> out;
  for (uint64_t p = 0; p < frontier;) {
    const uint64_t e = shm::LoadRelaxed(seg.page_entry(p));
    const shm::PageKind kind = shm::PageEntry::KindOf(e);
    if (shm::PageEntry::StartOf(e) != p || (kind != shm::kPageSlab && kind != shm::kPageLarge)) {
      ++p;
      continue;
    }
    if (kind == shm::kPageLarge) {
      out.push_back(seg.page_offset(p));
    } else {
      AllocatedInSlab(seg, p, shm::PageEntry::SlabClassOf(e), &out);
    }
    p += seg.run(p).pages;
  }
  return out;
}

}  // namespace shmpool::crash
