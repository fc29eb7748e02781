// Reclaim before failing: what an allocation does before it returns NULL. Free memory the
// arena holds centrally can strand capacity: a transfer ring keeps up to 512 KiB of full
// batches per class (transfer_ring.h), and every block in a ring keeps its slab active,
// so after a mass free the pages of those slabs serve no other class. An allocation that
// finds no block and no page therefore first drains every class's ring into its slabs
// (slabs that empty go back to the page heap at once), asks the live processes' caches to
// give back what they hold, and retries once; only then it fails (small classes, large
// runs, and a pool creation that finds no room for its run). Parked pages need no
// step here: a refill of their class unparks them (slab_park.h), and a slab whose blocks
// are all free (listed or parked) goes back to the page heap with the rest.
//
// One drain at a time (ReclaimState::mutex, robust): a thread that finds a drain running
// waits for it and then retries without draining again. The cache request is
// ReclaimState::xepoch: each drain bumps it, and a cache whose xflush_seen differs returns
// all its blocks to the slabs on its owner's next slow path (refill or overflow), never on
// the fast path. Caches whose owners never reach a slow path again keep their blocks.
//
// The last process out drains too (DrainIfLastOut): a detach or a dead process's reclaim
// that leaves no process record in use runs ReclaimCentral, so an arena nobody is
// attached to holds no free block in a ring and no empty slab, and its free pages coalesce
// into runs as long as the page heap allows. Reclaiming only at exhaustion cannot give that:
// the slabs a new process carves while other classes' slabs are still pinned by their rings
// fill the holes between those slabs, and the holes shorter than its slab stay unusable
// after the pinned slabs go back (page-heap fragmentation, no free block: no drain gets it
// back; in stranded_capacity_test it was 112 to 128 pages, 0.7-0.8% of the 64 B blocks).
//
// Crash argument. The mutex guards no data: a drainer killed at any instruction leaves it
// EOWNERDEAD, and the next drainer marks it consistent and drains from scratch. Each batch
// is named by one Transit from before its ring position is claimed until it is home: a pop
// (transfer_ring.h), then, before the class mutex is taken, a return to the slabs
// (slab_layer.h). The caller's thread-cache record is that Transit, or, for a caller without
// one (a thread without a cache, a pool creation), a purger record (purger_claim.h), so
// recovery of a dead drainer finishes the step (recovery.h) and a live drainer's claim
// on a ring cell is seen by every reclaim.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// Drains class `cls`'s ring into its slabs and gives the slabs whose blocks are all free
// back to the page heap. `t` names each batch from before its pop until it is home: a pop
// (kFromRing), then, before the class mutex is taken, a return (kToSlabs), so a re-run
// finishes either from t alone. Returns the slabs released. ReclaimCentral drains through
// this.
uint64_t DrainClass(const Segment& seg, uint32_t cls, Transit& t);

// Drains every class (DrainClass) unless another drain completed while this one waited for
// the mutex, and asks every cache to flush (bumps xepoch). `own`: the caller's thread-cache
// record, which names its pops and returns; nullptr: a purger record names them (with
// none free, only empty slabs are released). Returns the epoch after the drain.
uint64_t ReclaimCentral(const Segment& seg, Transit* own);

// The last process out: ReclaimCentral(seg, &own) when every process record but `index`
// is free (none claiming, live or dead). Run by a detach and by a dead process's reclaim
// after the process's caches are empty and before its last cache record (`own` is its
// Transit) and its process record are given back: a caller killed inside the drain leaves
// the record to a reclaim, which finishes the step it names (recovery.h) and drains again.
// A process attaching meanwhile is harmless (a drain runs beside traffic).
void DrainIfLastOut(const Segment& seg, uint32_t index, Transit& own);

}  // namespace shmpool::shm
