#include "shm/purge.h"

#include <chrono>

#include "shm/atomics.h"
#include "shm/page_heap.h"
#include "shm/reclaim.h"
#include "shm/slab_layer.h"

namespace shmpool::shm {

PurgeResult Purge(const Segment& seg, PurgeReason reason) {
  const auto t0 = std::chrono::steady_clock::now();
  // The pop uses a private Transit: a purger that dies between popping a batch and taking
  // the class mutex loses that one batch until the arena is reset (bounded). Under the
  // mutex the class's shared Transit makes the return exact (slab_layer.h).
  Transit transit{};
  uint64_t parked_pages = 0;
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    DrainClass(seg, c, transit, seg.central(c).transit);
    parked_pages += ParkFreePages(seg, c);
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
  return r;
}

}  // namespace shmpool::shm
