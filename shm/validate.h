// validate(): the expensive walker. Recounts every list in a segment against every counter
// and reports each inconsistency in words: page-map coverage and coalescing, free-run
// buckets, each class's partial list, every slab's free chain, every batch in every
// transfer ring, every thread cache's bins, and the balance
//     blocks in slabs - free in slabs == cached + in rings + allocated (nmalloc - nfree).
// No free block may be reachable twice, and each must carry its free tag. Tests call it;
// the daemon's audit and crash recovery use it. The segment must be quiescent (no thread
// allocating or freeing) for an exact answer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shm/segment.h"

namespace shmpool::shm {

struct ValidationReport {
  std::vector<std::string> errors;
  uint64_t free_blocks = 0;  // free small blocks found in all lists
  uint64_t runs = 0;
  bool ok() const { return errors.empty(); }
  std::string ToString() const;
};

ValidationReport Validate(const Segment& seg);

}  // namespace shmpool::shm
