// Purge: gives free memory back to the OS while clients keep allocating (like Redis'
// MEMORY PURGE). Drains every class's transfer ring into the slabs (so slabs that became
// empty return to the page heap), parks the pages inside slabs that only free blocks touch
// (slab_park.h), then punches holes in every backed free run. Thread caches are not
// touched (their owners alone may). The segment's st_blocks drops by what was released;
// stats count purges and bytes.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// Why a purge ran: counted per reason in the segment (ArenaCounters.xpurges_by_reason).
enum class PurgeReason : uint32_t { kOnDemand = 0, kDecay = 1, kPressure = 2 };
inline constexpr uint32_t kPurgeReasons = 3;

struct PurgeResult {
  uint64_t released_bytes = 0;
  uint64_t nanoseconds = 0;
};

PurgeResult Purge(const Segment& seg, PurgeReason reason = PurgeReason::kOnDemand);

}  // namespace shmpool::shm
