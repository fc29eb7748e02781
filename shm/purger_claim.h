// PurgerClaim: one of the segment's purger records (layout.h: PurgerRecord), held for a
// scope by a process that pops batches off transfer rings without a thread cache of its
// own (a purge, a reclaim before failing with no cache record).
//
// A pop must be named by a Transit in the segment from before its ring position is claimed
// until the batch is home (transfer_ring.h), so that recovery sees a live popper's claim
// and finishes a dead one's step (recovery.h: FindClaimants, ReclaimDeadPurgers). A
// Transit on the popper's stack names it to nobody.
//
// INVARIANTS: while held, the record's owner word is this process's (pid, start time);
// the record goes back (owner 0) at the end of the scope only if its Transit names
// nothing. One that names a batch (a SegmentFault from shm/untrusted.h unwound between the
// pop and the batch's return) stays claimed, as a dead purger's would, until a daemon that
// outlives this process settles it (ReclaimDeadPurgers) or the arena is reset. transit()
// is null when every record is held or this process's identity cannot be told: the caller
// then leaves the rings alone.
#pragma once

#include "shm/segment.h"

namespace shmpool::shm {

class PurgerClaim {
 public:
  explicit PurgerClaim(const Segment& seg);
  ~PurgerClaim();
  PurgerClaim(const PurgerClaim&) = delete;
  PurgerClaim& operator=(const PurgerClaim&) = delete;

  Transit* transit() const { return rec_ != nullptr ? &rec_->transit : nullptr; }

 private:
  PurgerRecord* rec_ = nullptr;
};

}  // namespace shmpool::shm
