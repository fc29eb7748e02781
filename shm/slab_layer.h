// The slab layer: per size class, the slabs of that class and the free blocks inside
// them. Thread caches come here when their class's transfer ring is empty (TakeBlocks) or
// full (ReturnBlocks), and threads that have no cache come here for every block. Slow path:
// every call holds the class's robust mutex (lock order: class mutex, then page heap).
//
// Placement: TakeBlocks serves from the most recently partial slab, so partly used slabs
// fill up before a new one is made; a slab whose blocks are all free goes back to the page
// heap at once (thread caches and rings already absorb alloc/free churn at the boundary).
//
// Crash argument. A holder killed inside leaves slab chains that are each intact (a chain
// is cut by one store of the slab's free_head) but counters that may lag, and its caller's
// Transit record naming the chain in flight. RepairClass() recounts every slab of the class
// from its chain and rebuilds the partial list; the chain in flight is returned by the
// recovery of the dead process (server side), which returns only blocks found in no list.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// The caller records op and class in `transit` before the call and clears it after; these
// keep `transit.xbatch` naming the blocks still in flight.

// Takes up to `want` free blocks of class `cls` as a 0-terminated chain in *head; returns
// how many (0 when the segment is exhausted). `transit` records the chain while it moves.
uint32_t TakeBlocks(const Segment& seg, uint32_t cls, uint32_t want, Transit& transit,
                    uint64_t* head);

// Returns a 0-terminated chain of free blocks of class `cls` to their slabs.
void ReturnBlocks(const Segment& seg, uint32_t cls, uint64_t head, Transit& transit);

// Recounts every slab of `cls` and rebuilds its partial list; run with the mutex held.
void RepairClass(const Segment& seg, uint32_t cls);

}  // namespace shmpool::shm
