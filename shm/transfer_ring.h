// The transfer ring: per size class, a bounded lock-free MPMC queue of full batches
// (Vyukov's bounded queue) that carries blocks between thread caches of any thread of any
// process with one CAS per batch, not per block. A producer that frees what another
// process allocated (packet buffers) fills batches in its own cache and hands them over
// here; the allocating side takes them back. Full ring: the batch goes to the slab layer.
// A ring holds at most kRingBytesPerClass (at least 2 batches, at most ring_slots): blocks
// in a ring are free memory nobody can purge or place, so the budget bounds that hoard
// (40 classes x 512 KiB, not 40 x 4 MiB), and the slabs' fullest-first placement then
// decides where most refills land.
//
// What it holds: cells[R] of {seq, batch}, and two 64-bit positions enq and deq.
// INVARIANTS: deq <= enq <= deq + R. Cell i is free for the enqueue at position p iff
//   seq == p (p % R == i); it holds a batch for the dequeue at p iff seq == p + 1; the
//   dequeuer hands it back for position p + R with seq = p + R. Every batch in a cell is a
//   0-terminated chain of exactly Class(c).batch free, tagged blocks.
//
// ABA: the "tag" of each cell is its 64-bit sequence number and positions only grow, so a
// CAS on a position can succeed only for the turn it read. 2^64 batches at one per
// nanosecond take 584 years: the counters cannot wrap in practice. No 128-bit CAS needed.
//
// Crash argument. Each caller records a Transit in a record of its own in the segment (its
// thread cache's, or a purger's: layout.h, PurgerRecord) before it claims a position, so
// recovery sees every claim; the ring functions keep it exact:
//   push: {kToRing, batch} -> xpos = p + 1 -> CAS(enq: p -> p + 1) -> op = kToRingClaimed
//         -> cell.batch = batch -> cell.seq = p + 1 (published) -> caller clears the Transit
//   pop:  {kFromRing} -> xpos = p + 1 -> CAS(deq: p -> p + 1) -> op = kFromRingClaimed
//         -> xbatch = cell.batch -> cell.seq = p + R (released) -> caller installs, clears
// A process killed after its CAS and before publishing/releasing leaves that one cell
// claimed: dequeuers see the ring empty there and enqueuers see it full until recovery
// (recovery.h) finishes the step from the Transit: it publishes the batch, or takes the
// batch to the slabs and releases the cell. The one instruction between a successful CAS
// and the op store is told apart by the cell itself: a cell left claimed whose claimant is
// dead and named by no Claimed record belongs to the dead process whose xpos names it.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// The caller has recorded the batch in `transit` (op kToRing or kFromRing, class, batch)
// and clears it afterwards; these record the position they claim and, for a pop, the batch.

inline constexpr uint64_t kRingBytesPerClass = 512 << 10;

// Batches the class's ring may hold: kRingBytesPerClass of them, within [2, ring_slots].
uint64_t RingBatchLimit(const Segment& seg, uint32_t cls);

// Enqueues a full batch. False when the ring is full or at its byte budget (the caller
// keeps the batch).
bool RingPush(const Segment& seg, uint32_t cls, uint64_t batch, Transit& transit);

// Dequeues a full batch, or returns 0 when the ring is empty.
uint64_t RingPop(const Segment& seg, uint32_t cls, Transit& transit);

// Batches in the ring now (racy: for stats).
uint64_t RingDepth(const Segment& seg, uint32_t cls);

// The points of a push or pop that the crash argument above names, in order.
enum class RingPoint : uint32_t {
  kPositionStored,  // the Transit's xpos names the position; the CAS is not yet tried
  kClaimed,         // the CAS won; the op still says unclaimed
  kRecorded,        // op Claimed (a pop's batch in xbatch); the cell not yet published/released
  kDone,            // published or released; the caller has not yet cleared its Transit
};

// Testing seam: `hook` (nullptr: none) runs at each RingPoint of every push (`push` true)
// and pop, in the thread that takes the step, so a test can stop or kill it there.
void SetRingHookForTesting(void (*hook)(bool push, RingPoint point));

}  // namespace shmpool::shm
