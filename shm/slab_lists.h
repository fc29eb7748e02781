// The lists of a size class's slabs, threaded through the slabs' RunMeta prev/next (page
// index + 1; 0 ends a list), heads in ClassCentral. Class mutex held for every call.
//
//   partial[b]: slabs with at least one block on their free list, bucketed by how full
//               they are: b = (free_count - 1) * kPartialBuckets / blocks, so bucket 0
//               holds the fullest. TakeBlocks serves from the fullest bucket that is not
//               empty (and from its most recently listed slab): new blocks go where live
//               blocks already are, so the emptiest slabs and pages stay free for purge.
//   parked:     slabs whose free list is empty but which hold parked blocks (free blocks
//               on pages purge punched out, slab_park.h). TakeBlocks unparks from it only
//               when no slab is partial, so resident free blocks are always used first.
// INVARIANT: a slab is on the list ListFor(its RunMeta) names, and on no other; a slab on
// no list has no free block at all (full).
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// A list of a class's slabs: partial buckets 0..kPartialBuckets-1, then the parked list.
using SlabList = uint32_t;
inline constexpr SlabList kParkedList = kPartialBuckets;
inline constexpr SlabList kNoList = kPartialBuckets + 1;

inline SlabList ListFor(const RunMeta& r, const SizeClassInfo& info) {
  if (r.free_count > 0)
    return static_cast<SlabList>(uint64_t{r.free_count - 1} * kPartialBuckets / info.blocks);
  return r.parked > 0 ? kParkedList : kNoList;
}

inline uint32_t& HeadOf(ClassCentral& c, SlabList list) {
  return list < kPartialBuckets ? c.partial_heads[list] : c.parked_head;
}

// The fullest partial bucket's first slab (page index + 1), or 0 when no slab is partial.
inline uint32_t FullestPartial(const ClassCentral& c) {
  for (uint32_t head : c.partial_heads)
    if (head) return head;
  return 0;
}

// Pushes `slab` at the head of `list` (not kNoList).
inline void LinkSlab(const Segment& seg, ClassCentral& c, uint32_t slab, SlabList list) {
  uint32_t& head = HeadOf(c, list);
  RunMeta& r = seg.run(slab);
  r.prev = 0;
  r.next = head;
  if (r.next) seg.run(r.next - 1).prev = slab + 1;
  head = slab + 1;
}

// Takes `slab` out of `list` (not kNoList), which holds it.
inline void UnlinkSlab(const Segment& seg, ClassCentral& c, uint32_t slab, SlabList list) {
  RunMeta& r = seg.run(slab);
  if (r.prev)
    seg.run(r.prev - 1).next = r.next;
  else
    HeadOf(c, list) = r.next;
  if (r.next) seg.run(r.next - 1).prev = r.prev;
  r.prev = r.next = 0;
}

// Moves `slab` of class `cls`, which was on `was`, to the list its state now calls for.
inline void Relist(const Segment& seg, uint32_t cls, uint32_t slab, SlabList was) {
  const SlabList now = ListFor(seg.run(slab), Class(cls));
  if (now == was) return;
  ClassCentral& c = seg.central(cls);
  if (was != kNoList) UnlinkSlab(seg, c, slab, was);
  if (now != kNoList) LinkSlab(seg, c, slab, now);
}

}  // namespace shmpool::shm
