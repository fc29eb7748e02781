// The slab layer: per size class, the slabs of that class and the free blocks inside
// them. Thread caches come here when their class's transfer ring is empty (TakeBlocks) or
// full (ReturnBlocks), and threads that have no cache come here for every block. Slow path:
// every call holds the class's robust mutex (lock order: class mutex, then page heap).
//
// Placement (slab_lists.h): TakeBlocks serves from the fullest partial slab (the most
// recently listed slab of the fullest partial bucket), so partly used slabs fill up before
// a new one is made, and unparks pages of a parked slab (slab_park.h) only when no slab is
// partial; a slab whose blocks are all free (listed or parked) goes back to the page heap
// at once (thread caches and rings already absorb alloc/free churn).
//
// Crash argument. A holder killed inside leaves slab chains that are each intact (a chain
// is cut or extended by one store of a slab's free_head) and ClassCentral.holder_transit
// naming its Transit: kToSlabs names the block being pushed (xpos) and the rest of the
// chain (xbatch); kFromSlabs names the chain taken so far (xbatch, whose tail may still run
// into a slab's chain). The next locker gets EOWNERDEAD and runs RepairClass(): it recounts
// every slab of the class from its chain, rebuilds the partial and parked lists, pushes
// home each block the dead holder was moving that no slab holds (a membership test that is
// exact, because no one could take a block from these slabs between the death and the
// repair), then gives every slab whose blocks are all free back to the page heap.
// Operations outside the mutex (a chain taken but not yet installed in a bin) are the dead
// process's alone and are returned by recovery (recovery.h).
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

// Gives every slab of `cls` whose blocks are all free back to the page heap (purge does
// this; a slab also goes back by itself as its last block comes home). Returns how many.
uint64_t ReleaseEmptySlabs(const Segment& seg, uint32_t cls);

// Purge's second step: in every partial slab of `cls`, parks the pages that only free
// blocks touch and punches them out of the file (slab_park.h). Returns the pages parked.
uint64_t ParkFreePages(const Segment& seg, uint32_t cls);

// The repair after EOWNERDEAD (mutex held): recounts the class, finishes the dead holder's
// operation and releases the slabs left empty.
void RepairClass(const Segment& seg, uint32_t cls);

// Testing seam: `hook` (nullptr: none) runs in ReturnBlocks once it holds the class mutex
// and names the caller's Transit as the holder's, before its first store, so a test can
// kill the holder there.
void SetReturnBlocksHookForTesting(void (*hook)());

}  // namespace shmpool::shm
