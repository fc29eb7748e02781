#include "shm/purge.h"

#include <chrono>

#include "shm/atomics.h"
#include "shm/page_heap.h"
#include "shm/purger_claim.h"
#include "shm/recovery.h"
#include "shm/slab_layer.h"
#include "shm/transfer_ring.h"

namespace shmpool::shm {
namespace {

// The Transit names nothing: the op store commits.
void ClearTransit(Transit& t) {
  StoreRelease(t.xop, static_cast<uint32_t>(Transit::kNone));
  StoreRelaxed(t.xbatch, uint64_t{0});
  StoreRelaxed(t.xpos, uint64_t{0});
}

// Moves every batch of `cls`'s ring to the slabs. The purger record's Transit names each
// batch from before its position is claimed until it is home: a pop (transfer_ring.h),
// then, once the cell is released, a return to the slabs (slab_layer.h). The op changes
// before xpos is cleared: a ring step's position counts until the op changes.
void DrainRing(const Segment& seg, uint32_t cls, Transit& t) {
  // At most what the ring holds: batches pushed meanwhile wait for the next purge (and a
  // ring whose positions are corrupted cannot keep this loop going).
  for (uint32_t n = 0; n < seg.geometry().ring_slots; ++n) {
    StoreRelaxed(t.xcls, cls);
    StoreRelease(t.xop, static_cast<uint32_t>(Transit::kFromRing));
    const uint64_t batch = RingPop(seg, cls, t);
    if (batch == 0) break;
    StoreRelease(t.xop, static_cast<uint32_t>(Transit::kToSlabs));
    StoreRelaxed(t.xpos, uint64_t{0});
    ReturnBlocks(seg, cls, batch, t);
    ClearTransit(t);
  }
  ClearTransit(t);
}

}  // namespace

PurgeResult Purge(const Segment& seg, PurgeReason reason) {
  const auto t0 = std::chrono::steady_clock::now();
  // A dead purger's claimed cell holds up its ring: finish its step first (Unavailable: a
  // later purge or the daemon's audit does).
  (void)ReclaimDeadPurgers(seg);
  uint64_t parked_pages = 0;
  {
    const PurgerClaim claim(seg);
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      if (claim.transit() != nullptr) DrainRing(seg, c, *claim.transit());
      ReleaseEmptySlabs(seg, c);
      parked_pages += ParkFreePages(seg, c);
    }
  }
  PurgeResult r;
  r.released_bytes = PurgeFreePages(seg) + (parked_pages << kPageShift);
  r.nanoseconds = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  ArenaCounters& k = seg.header().counters;
  FetchAddRelaxed(k.xpurge_count, uint64_t{1});
  FetchAddRelaxed(k.xpurges_by_reason[static_cast<uint32_t>(reason)], uint64_t{1});
  FetchAddRelaxed(k.xpurged_bytes, r.released_bytes);
  FetchAddRelaxed(k.xpurge_ns, r.nanoseconds);
  StoreRelaxed(k.xlast_purge_unix_ns,
               static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count()));
  return r;
}

}  // namespace shmpool::shm
