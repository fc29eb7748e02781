#include "shm/reclaim.h"

#include <exception>

#include "shm/atomics.h"
#include "shm/purger_claim.h"
#include "shm/slab_layer.h"
#include "shm/transfer_ring.h"

namespace shmpool::shm {

uint64_t DrainClass(const Segment& seg, uint32_t cls, Transit& t) {
  // At most what the ring holds: batches pushed meanwhile wait for the next drain (and a
  // ring whose positions are corrupted cannot keep this loop going).
  for (uint32_t n = 0; n < seg.geometry().ring_slots; ++n) {
    StoreRelaxed(t.xcls, cls);
    StoreRelaxed(t.xbatch, uint64_t{0});
    StoreRelaxed(t.xpos, uint64_t{0});
    StoreRelaxed(t.xop, static_cast<uint32_t>(Transit::kFromRing));
    const uint64_t batch = RingPop(seg, cls, t);
    if (batch) {
      // The popped batch (xbatch) becomes a return before the class mutex names t: a
      // holder killed inside ReturnBlocks then leaves a slab step, which the next locker's
      // repair finishes and a resumed reclaim finds done, never a pop it would redo. The
      // op changes before xpos is cleared: a ring step's position counts until then.
      StoreRelease(t.xop, static_cast<uint32_t>(Transit::kToSlabs));
      StoreRelaxed(t.xpos, uint64_t{0});
      ReturnBlocks(seg, cls, batch, t);
    }
    StoreRelaxed(t.xop, static_cast<uint32_t>(Transit::kNone));
    StoreRelaxed(t.xbatch, uint64_t{0});
    StoreRelaxed(t.xpos, uint64_t{0});
    if (batch == 0) break;
  }
  return ReleaseEmptySlabs(seg, cls);
}

uint64_t ReclaimCentral(const Segment& seg, Transit* own) {
  ReclaimState& r = seg.header().reclaim;
  const uint64_t seen = LoadAcquire(r.xepoch);
  const int uncaught = std::uncaught_exceptions();
  RobustMutex::LockResult got;
  bool drain = true;
  if (!r.mutex.TryLock(&got)) {
    got = r.mutex.Lock();
    drain = LoadAcquire(r.xepoch) == seen;  // else a drain ended while this one waited
  }
  // Unlocked on every way out: a SegmentFault (shm/untrusted.h) thrown by the drain must not
  // leave the mutex held by a live daemon, which no EOWNERDEAD would ever release.
  struct Unlock {
    RobustMutex& m;
    int uncaught;
    ~Unlock() noexcept(false) { m.UnlockFromGuard(uncaught); }
  } unlock{r.mutex, uncaught};
  if (got == RobustMutex::LockResult::kOwnerDied) r.mutex.MarkConsistent();
  if (drain) {
    if (own != nullptr) {
      for (uint32_t c = 1; c < kNumClasses; ++c) DrainClass(seg, c, *own);
    } else {
      // No cache record: a purger record names the pops and returns (purger_claim.h); with
      // none free, the rings are left to the purges that hold them.
      const PurgerClaim claim(seg);
      for (uint32_t c = 1; c < kNumClasses; ++c) {
        if (claim.transit() != nullptr)
          DrainClass(seg, c, *claim.transit());
        else
          ReleaseEmptySlabs(seg, c);
      }
    }
    StoreRelease(r.xepoch, LoadRelaxed(r.xepoch) + 1);  // only the holder writes it
  }
  return LoadAcquire(r.xepoch);
}

void DrainIfLastOut(const Segment& seg, uint32_t index, Transit& own) {
  for (uint32_t i = 0; i < seg.geometry().max_procs; ++i)
    if (i != index && seg.proc(i).state() != ProcRecord::kFree) return;
  ReclaimCentral(seg, &own);
}

}  // namespace shmpool::shm
