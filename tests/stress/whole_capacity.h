// The end-of-stress check that nothing leaked or fragmented for good: after a workload has
// freed everything (and a purge has drained the transfer rings), the heap hands out every
// whole slab of one size class that fits in the capacity, then the whole capacity as one
// large block.
#pragma once

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/stats.h"
#include "shm/validate.h"

namespace shmpool::stress {

// Fills the arena with blocks of class `cls`, checks the count, frees them all.
inline void ExpectWholeCapacityInClass(shm::Heap& heap, uint32_t cls) {
  const shm::Segment& seg = heap.segment();
  const shm::SizeClassInfo& info = shm::Class(cls);
  heap.FlushThreadCache();
  shm::Purge(seg);
  const uint64_t want = seg.data_pages() / info.slab_pages * info.blocks;
  std::vector<void*> blocks;
  blocks.reserve(want);
  while (void* p = heap.Allocate(info.size)) {
    blocks.push_back(p);
    if (blocks.size() > want) break;
  }
  EXPECT_EQ(blocks.size(), want) << "class " << cls << " (" << info.size << " B)";
  {
    shm::ValidationReport r = shm::Validate(seg);
    EXPECT_TRUE(r.ok()) << "full in class " << cls << ": " << r.ToString();
  }
  for (void* p : blocks) heap.Free(p);
  heap.FlushThreadCache();
  shm::Purge(seg);
  shm::ValidationReport r = shm::Validate(seg);
  EXPECT_TRUE(r.ok()) << "after class " << cls << ": " << r.ToString();
  EXPECT_EQ(shm::CollectStats(seg).allocated, 0u);
}

inline void ExpectWholeCapacityAsOneBlock(shm::Heap& heap) {
  const shm::Segment& seg = heap.segment();
  heap.FlushThreadCache();
  shm::Purge(seg);
  void* all = heap.Allocate(seg.geometry().capacity);
  EXPECT_NE(all, nullptr) << "the whole capacity as one block";
  heap.Free(all);
  shm::ValidationReport r = shm::Validate(seg);
  EXPECT_TRUE(r.ok()) << r.ToString();
}

}  // namespace shmpool::stress
