#include "shm/reclaim.h"

#include "shm/atomics.h"
#include "shm/slab_layer.h"
#include "shm/transfer_ring.h"

namespace shmpool::shm {

uint64_t DrainClass(const Segment& seg, uint32_t cls, Transit& pop, Transit& ret) {
  for (;;) {
    StoreRelaxed(pop.xcls, cls);
    StoreRelaxed(pop.xbatch, uint64_t{0});
    StoreRelaxed(pop.xpos, uint64_t{0});
    StoreRelaxed(pop.xop, static_cast<uint32_t>(Transit::kFromRing));
    const uint64_t batch = RingPop(seg, cls, pop);
    if (batch) ReturnBlocks(seg, cls, batch, ret);  // ret names the batch from here on
    StoreRelaxed(pop.xop, static_cast<uint32_t>(Transit::kNone));
    StoreRelaxed(pop.xbatch, uint64_t{0});
    StoreRelaxed(pop.xpos, uint64_t{0});
    if (batch == 0) break;
  }
  return ReleaseEmptySlabs(seg, cls);
}

uint64_t ReclaimCentral(const Segment& seg, Transit* own) {
  ReclaimState& r = seg.header().reclaim;
  const uint64_t seen = LoadAcquire(r.xepoch);
  RobustMutex::LockResult got;
  bool drain = true;
  if (!r.mutex.TryLock(&got)) {
    got = r.mutex.Lock();
    drain = LoadAcquire(r.xepoch) == seen;  // else a drain ended while this one waited
  }
  if (got == RobustMutex::LockResult::kOwnerDied) r.mutex.MarkConsistent();
  if (drain) {
    Transit private_pop{};
    for (uint32_t c = 1; c < kNumClasses; ++c)
      DrainClass(seg, c, own ? *own : private_pop, own ? *own : seg.central(c).transit);
    StoreRelease(r.xepoch, LoadRelaxed(r.xepoch) + 1);  // only the holder writes it
  }
  const uint64_t epoch = LoadAcquire(r.xepoch);
  r.mutex.Unlock();
  return epoch;
}

void DrainIfLastOut(const Segment& seg, uint32_t index, Transit& own) {
  for (uint32_t i = 0; i < seg.geometry().max_procs; ++i)
    if (i != index && seg.proc(i).state() != ProcRecord::kFree) return;
  ReclaimCentral(seg, &own);
}

}  // namespace shmpool::shm
