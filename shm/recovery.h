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
//       kToSlabs / kFromSlabs: if the process died holding the class mutex, the first
//         locker's repair finishes the step (slab_layer.h); otherwise the chain it names
//         is wholly outside the slabs and goes back like a bin's chain
//   - a robust mutex it died holding: the next locker repairs (page_heap.h, slab_layer.h)
//   - its per-thread caches in object pools                    -> back to each pool's
//     central stack (ReclaimPoolCaches, pool.h)
//   - blocks it allocated and did not free: they stay allocated (the application may have
//     handed them to another process, which may still free them); Stats show them, and an
//     arena reset reclaims them.
//
// Crash argument for the reclaimer itself (the daemon may be killed at any instruction of
// ReclaimProcess; a restarted daemon, or any later call for the record, resumes):
//   - The record says a reclaim is owed: ReclaimProcess moves it to kDead (a CAS from the
//     live word of the verdict) before anything else and to kFree after everything; the
//     daemon's audit reclaims every kDead record at start and every audit interval
//     (server/core/reclaimer.h). A cache stays owned by the record until all its chains are
//     home, so a re-run finds it.
//   - Only the incarnation the verdict judged is reclaimed. The verdict reads the record's
//     word, its identity and the word again (ReadProcRecord), so the identity is that
//     incarnation's; the reclaim's first store is a CAS from that exact word, so a record
//     the process detached from, and another process claimed, in between is left alone.
//     Once the CAS has won, nothing but this reclaim changes the record or its caches: the
//     owner is dead, a claim needs kFree, and a cache owned by the record is claimed or
//     released only by its owner.
//   - Every chain stays named by the dead cache's record until it is home. A chain moves
//     home in three steps: (1) the cache's Transit is made to carry it (xbatch = head,
//     then op = kToSlabs, which commits, then xpos = 0), (2) the bin that named it is
//     cleared, (3) ReturnBlocks pushes it under the class mutex with that same Transit as
//     the holder's record (so a reclaimer killed inside is finished by the next locker's
//     repair, which clears the Transit), then the Transit is cleared. Between (1) and (2)
//     the bin and the Transit name one chain: equal heads count once.
//   - A re-run first takes the class mutex of a slab step the Transit names (so any repair
//     owed has run) and then reads the Transit: a slab step still named then is not under
//     way, so its chain is wholly outside the slabs. A ring step is finished from the ring
//     and the Transit alone, and each decision is stored before it is acted on (the op
//     becomes Claimed before a cell is published or released for the dead process, the
//     popped batch is stored in xbatch before its cell is released), so a re-run takes the
//     same decision and finds the batch where the first run left it.
//   - Nothing is pushed twice: ReturnBlocks moves the Transit past each block before it
//     pushes it (xpos = the block, xbatch = the rest), so once a block is home and others
//     may take it, no record names it; a repair finishes the rest from the same record,
//     exactly (it relies on slab_layer's repair being itself restartable: it keeps the
//     holder's record named until it is clear, and pushes the rest before xpos). A chain
//     that two records name (the dead process was killed between the two stores that
//     move it) is returned once.
//   - Known gaps: a cumulative bin counter (drained) can miss or repeat one chain's count
//     when the reclaimer dies between clearing a bin and counting it (counters only: the
//     allocated figure comes from the lists); a pool object being returned when the
//     reclaimer dies is lost (pool.h: loss over duplication).
//   - A push-claimed Transit (kToRingClaimed) names its batch only while the cell is not
//     yet published (its sequence still equals the position): once published, the ring
//     names the batch, and the pusher's other threads may pop and allocate it before the
//     pusher clears its Transit. FinishRingStep reads the cell, not the Transit, to decide.
//
// Purgers (purge.h) drain the rings with the Transit of a purger record in the segment
// (layout.h: PurgerRecord), never a private one, so every ring claim is named by a record
// that FindClaimants sees: a live purger's claim makes a reclaim of a dead client that named
// the same cell wait (Unavailable), and a dead purger's step is finished or undone exactly
// like a dead cache's (SettleTransit, FinishRingStep, the same tie-break among dead
// claimants: records are indexed caches first, then purgers). ReclaimDeadPurgers takes a
// dead purger's record over with one CAS (so two repairers never finish the same step),
// settles its Transit, returns the batch it carries and frees the record; a repairer killed
// on the way leaves the record owned by a dead process again, and the next one resumes it
// (the same stored decisions as above).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "shm/proc_identity.h"
#include "shm/segment.h"

namespace shmpool::shm {

struct ReclaimReport {
  uint32_t caches = 0;                 // thread caches reclaimed
  uint64_t blocks_returned = 0;        // free blocks put back into slabs
  uint64_t batches_published = 0;      // ring pushes finished for the dead process
  uint64_t cells_released = 0;         // ring pops finished for the dead process
  uint64_t pool_objects_returned = 0;  // objects of its pool caches (pool.h)
  uint64_t chains_cut = 0;             // chains cut at a link that is no free block of their class
                                       // (only a corrupted cache record has one)
};

// A consistent read of process record `index`: *word (its state and incarnation) and *id
// (the identity it names, meaningful for kLive and kDead), read between two equal reads of
// the word. A claim changes the word before it writes the identity, so the identity is that
// incarnation's. False when the record kept changing over a few tries.
bool ReadProcRecord(const Segment& seg, uint32_t index, uint64_t* word, ProcIdentity* id);

// True when process record `index` is live in the segment but the kernel says its process
// has exited (pid gone, or reused by a process with another start time); `*word` (if not
// null) receives the record's word the verdict is about, for ReclaimProcess. A process
// whose state cannot be read (ProcIdentity: kUnknown, e.g. no file descriptor left) is not
// dead.
bool ProcessIsDead(const Segment& seg, uint32_t index, uint64_t* word = nullptr);

// Frees process record `index` when it holds a claim (layout.h: ProcRecord) whose claimant
// no longer exists: a process killed inside Heap::Attach, between its claim and kLive. It
// owns nothing yet (a process claims thread caches only once live). Returns true when it
// freed the record. A claimant's pid reused by a later process keeps the record claimed
// until that process exits too.
bool ReleaseAbandonedClaim(const Segment& seg, uint32_t index);

// Reclaims the incarnation of process record `index` that `word` names: a live word whose
// process is dead (ProcessIsDead's, or a watch's whose process is known gone), or a kDead
// word (a reclaim that was interrupted: it resumes). The record moves from that live word
// to kDead by one CAS, so a record detached and claimed again since the word was read is
// left alone: Aborted, nothing done. FailedPrecondition for a word that is neither live nor
// dead. Unavailable when another process is mid-way through a ring step on a cell the dead
// process also named: call again shortly.
absl::StatusOr<ReclaimReport> ReclaimProcess(const Segment& seg, uint32_t index, uint64_t word);

// This process's owner word for a purger record (layout.h: PurgerRecord::Owner); an error
// when /proc cannot tell its start time, or when the identity does not fit the word.
absl::StatusOr<uint64_t> PurgerOwnerOfSelf();

// Frees every purger record whose owner is gone (a purge killed mid-way): takes it over,
// finishes or undoes the ring step its Transit names as for a dead cache, returns the batch
// it carries to the slabs. Every purge runs it first; the daemon's audit runs it with every
// reclaim pass. Returns how many records it freed; Unavailable when a live process is
// mid-way through a ring step on a cell a dead purger also named (that record stays owed:
// call again shortly).
absl::StatusOr<uint32_t> ReclaimDeadPurgers(const Segment& seg);

// Testing seam: `hook` (nullptr: none) runs after each store of ReclaimProcess (and of
// ReclaimDeadPurgers) that a resumed reclaim depends on, so a test can kill the reclaimer
// between any two of them.
void SetReclaimStepHookForTesting(void (*hook)());

// Testing seam: `hook` (nullptr: none) runs in ReadProcRecord after it has read the record's
// identity and before it reads the word again, so a test can detach the record's process
// and attach another one there.
void SetVerdictHookForTesting(void (*hook)());

}  // namespace shmpool::shm
