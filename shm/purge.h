// Purge: gives free memory back to the OS while clients keep allocating (like Redis'
// MEMORY PURGE). Drains every class's transfer ring into the slabs (so slabs that became
// empty return to the page heap), parks the pages inside slabs that only free blocks touch
// (slab_park.h), then punches holes in every backed free run. Thread caches are not
// touched (their owners alone may). The segment's st_blocks drops by what was released;
// stats count purges and bytes.
//
// Any process may purge, several at once (the daemon's background purge, a client's
// shmpool_purge, shmpoolctl). Each drains the rings through a purger record it holds
// (layout.h: PurgerRecord), so its ring steps are named in the segment: recovery sees a
// live purger's claim, and a purger killed at any instruction leaves a record the next
// purge, or the daemon's audit, finishes exactly (recovery.h: ReclaimDeadPurgers). When all
// kMaxPurgers records are held, a purge leaves the rings to the purges holding them.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// Why a purge ran: counted per reason in the segment (ArenaCounters.xpurges_by_reason).
enum class PurgeReason : uint32_t { kOnDemand = 0, kDecay = 1, kPressure = 2 };
inline constexpr uint32_t kPurgeReasons = 3;
static_assert(static_cast<uint32_t>(PurgeReason::kPressure) + 1 == kPurgeReasons);
static_assert(sizeof(ArenaCounters::xpurges_by_reason) == kPurgeReasons * sizeof(uint64_t),
              "the segment counts purges per PurgeReason");

struct PurgeResult {
  uint64_t released_bytes = 0;
  uint64_t nanoseconds = 0;
};

PurgeResult Purge(const Segment& seg, PurgeReason reason = PurgeReason::kOnDemand);

}  // namespace shmpool::shm
