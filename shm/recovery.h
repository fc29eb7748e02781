// Recovery: reclaims what a dead process held inside a segment, while every other process
// keeps allocating and freeing. The daemon runs it when a client's session ends without a
// detach or its pidfd reports an exit; tests run it directly after kill -9.
//
// What a dead process can hold, and what becomes of it:
//   - its thread caches' bins (list and spare chains)            -> back to the slabs
//   - a batch in transit between a cache and the ring or slabs   -> finished or undone,
//     from the cache's Transit record (see transfer_ring.h and slab_layer.h):
//       kToRingClaimed: publish the batch in the cell it claimed (if not yet published)
//       kFromRingClaimed: release the claimed cell; its batch goes to the slabs
//       kToRing / kFromRing: nothing was claimed, unless the cell at xpos is still claimed
//         and no other live or dead claimant names it (the dead process was killed in the
//         one instruction after its CAS): then finish the push or pop as above
//       kToSlabs / kFromSlabs: every block of the chain that its slab does not hold goes
//         back to its slab (under the class mutex, so the check is exact)
//   - a robust mutex it died holding: the next locker repairs (page_heap.h, slab_layer.h)
//   - its per-thread caches in object pools                    -> back to each pool's
//     central stack (ReclaimPoolCaches, pool.h)
//   - blocks it allocated and did not free: they stay allocated (the application may have
//     handed them to another process, which may still free them); Stats show them, and an
//     arena reset reclaims them.
// A chain that two records name (a crash between the two stores that move it) is returned
// once: chains are compared by head, and a block its slab already holds is never pushed.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "shm/segment.h"

namespace shmpool::shm {

struct ReclaimReport {
  uint32_t caches = 0;                 // thread caches reclaimed
  uint64_t blocks_returned = 0;        // free blocks put back into slabs
  uint64_t batches_published = 0;      // ring pushes finished for the dead process
  uint64_t cells_released = 0;         // ring pops finished for the dead process
  uint64_t pool_objects_returned = 0;  // objects of its pool caches (pool.h)
};

// True when process record `index` is live in the segment but its process has exited
// (pid gone, or reused by a process with another start time).
bool ProcessIsDead(const Segment& seg, uint32_t index);

// Reclaims process record `index`, whose process must be dead (ProcessIsDead, or known
// from its session). Unavailable when another process is mid-way through a ring step on a
// cell the dead process also named: call again shortly.
absl::StatusOr<ReclaimReport> ReclaimProcess(const Segment& seg, uint32_t index);

}  // namespace shmpool::shm
