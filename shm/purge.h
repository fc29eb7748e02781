// Purge: gives free memory back to the OS while clients keep allocating (like Redis'
// MEMORY PURGE). Drains every class's transfer ring into the slabs (so slabs that became
// empty return to the page heap), then punches holes in every backed free run. The
// segment's st_blocks drops by what was released; stats count purges and bytes.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

struct PurgeResult {
  uint64_t released_bytes = 0;
  uint64_t nanoseconds = 0;
};

PurgeResult Purge(const Segment& seg);

}  // namespace shmpool::shm
