// The transfer ring: per size class, a bounded lock-free MPMC queue of full batches
// (Vyukov's bounded queue) that carries blocks between thread caches of any thread of any
// process with one CAS per batch, not per block. A producer that frees what another
// process allocated (packet buffers) fills batches in its own cache and hands them over
// here; the allocating side takes them back. Full ring: the batch goes to the slab layer.
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
// Crash argument. Each caller records a Transit {op, batch, pos} in its own cache record
// before claiming a position and clears it after finishing. A process killed between
// claiming position p (the CAS) and publishing the cell's seq leaves that cell claimed:
// later dequeuers see the queue empty there, enqueuers see it full, nothing is corrupted;
// recovery of the dead process (server side) finds the cell by the Transit's pos and
// completes the enqueue with the Transit's batch, or completes the dequeue by taking the
// batch back to the slab layer. Killed before the CAS: the batch is only in the Transit.
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

// The caller has recorded the batch in `transit` (op kToRing or kFromRing, class, batch)
// and clears it afterwards; these record the position they claim and, for a pop, the batch.

// Enqueues a full batch. False when the ring is full (the caller keeps the batch).
bool RingPush(const Segment& seg, uint32_t cls, uint64_t batch, Transit& transit);

// Dequeues a full batch, or returns 0 when the ring is empty.
uint64_t RingPop(const Segment& seg, uint32_t cls, Transit& transit);

// Batches in the ring now (racy: for stats).
uint64_t RingDepth(const Segment& seg, uint32_t cls);

}  // namespace shmpool::shm
