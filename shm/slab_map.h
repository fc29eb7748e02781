// A picture of a segment's data pages, read lock-free from the page map and run metadata:
// each run (slab, large, free) with its state, and per size class how full its slabs are.
// Feeds `shmpoolctl map` (GetSegmentMap) and the slab-fill histogram of the stats.
//
// Reading never blocks allocation: page-map entries are relaxed atomic loads, and a run's
// length and free count are read through relaxed atomic_refs while the page-heap and class
// mutexes' holders may be changing them. A run that changes hands during the walk may be
// shown in its old or new state, and a length that does not fit (0, or past the frontier)
// is read as one page; the walk always ends, and every page below the frontier is covered
// exactly once. Pages at and above the frontier are unused.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "shm/segment.h"

namespace shmpool::shm {

enum class RunState : uint8_t {
  kFull,     // a slab with no free block
  kPartial,  // a slab with some free blocks
  kEmpty,    // a slab whose blocks are all free (transient: it is released at once)
  kLarge,    // a large allocation
  kFree,     // a free run, backed
  kPurged,   // a free run, purged (some or all of its pages unbacked); in cells, also
             // the parked pages of slabs (slab_park.h)
  kUnused,   // above the frontier
};

struct MapRun {
  uint32_t first_page = 0;
  uint32_t pages = 0;
  RunState state = RunState::kUnused;
  uint32_t cls = 0;           // slabs
  uint32_t used_blocks = 0;   // slabs: blocks handed out (to clients, caches or rings)
  uint32_t blocks = 0;        // slabs: blocks per slab
  uint32_t backed_pages = 0;  // free runs and slabs
  uint64_t parked_mask = 0;   // slabs: bit i set when page first_page + i is parked
};

struct SegmentMap {
  uint64_t pages = 0;     // data pages of the segment
  uint64_t frontier = 0;  // pages below it are covered by runs
  std::vector<MapRun> runs;
};

SegmentMap ReadSegmentMap(const Segment& seg);

// Slabs of each class by fill decile: [cls][d] counts slabs whose used share u satisfies
// d/10 <= u < (d+1)/10, with full slabs in d = 9.
using FillHistogram = std::array<std::array<uint64_t, 10>, kNumClasses>;
// One walk over the page map, storing nothing (what the stats use).
FillHistogram SlabFillHistogram(const Segment& seg);

// Heat-map cells: the pages below the frontier (all pages when it is 0: the pages above
// it were never used) split into at most `cells` equal spans of *pages_per_cell pages (the
// last may be shorter), each counting its pages by state, and its slab pages' used share.
struct MapCell {
  std::array<uint32_t, 7> pages{};  // indexed by RunState
  double slab_fill = 0;             // used blocks / blocks over the cell's slab pages
};
std::vector<MapCell> MapCells(const SegmentMap& map, uint32_t cells,
                              uint64_t* pages_per_cell = nullptr);

}  // namespace shmpool::shm
