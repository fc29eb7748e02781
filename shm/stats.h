// Arena statistics, read lock-free from the segment (names follow jemalloc's; see the
// design notes, section 4). Reading never blocks allocation: every field is a relaxed
// load of a counter its owner maintains, so a snapshot taken during traffic is consistent
// per counter, not across counters.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "shm/segment.h"

namespace shmpool::shm {

// The fragmentation ratios of ArenaStats below, for an arena or one size class.
inline std::optional<double> ExternalFragmentation(uint64_t allocated, uint64_t active) {
  if (allocated == 0 || active == 0) return std::nullopt;
  return 1.0 - double(allocated) / double(active);
}
inline std::optional<double> InternalFragmentation(uint64_t requested, uint64_t handed_out) {
  if (handed_out == 0) return std::nullopt;
  return 1.0 - double(requested) / double(handed_out);
}

struct ClassStats {
  uint32_t cls = 0;
  uint32_t size = 0;
  uint64_t allocated = 0;      // bytes in blocks handed out and not freed (at class size)
  uint64_t active = 0;         // bytes of this class's slabs
  uint64_t cached = 0;         // bytes in thread caches
  uint64_t in_ring = 0;        // bytes in full batches waiting in the transfer ring
  uint64_t free_in_slabs = 0;  // bytes free inside slabs, resident (on the slabs' free lists)
  uint64_t parked = 0;         // bytes free inside slabs on pages purge gave back
  uint64_t nmalloc = 0;
  uint64_t nfree = 0;
  uint64_t nslabs = 0;
  uint64_t requested = 0;   // cumulative bytes asked for
  uint64_t handed_out = 0;  // cumulative bytes handed out (nmalloc * size)
  // Slabs by fill decile: [d] counts slabs with d/10 <= used/blocks < (d+1)/10, full in [9]
  // (one lock-free walk over the page map: slab_map.h).
  std::array<uint64_t, 10> fill_deciles{};

  std::optional<double> external_fragmentation() const {
    return ExternalFragmentation(allocated, active);
  }
  std::optional<double> internal_fragmentation() const {
    return InternalFragmentation(requested, handed_out);
  }
};

struct ArenaStats {
  uint64_t capacity = 0;
  uint64_t allocated = 0;
  uint64_t active = 0;      // slabs and large runs
  uint64_t pool_bytes = 0;  // object pools' runs (objects and their metadata)
  uint64_t resident = 0;    // st_blocks of the segment file
  uint64_t cached = 0;      // thread caches
  uint64_t in_ring = 0;
  uint64_t free_in_slabs = 0;
  uint64_t parked = 0;  // free blocks inside slabs on purged pages
  // Free blocks a reclaim before failing can take back (reclaim.h): cached + in_ring +
  // free_in_slabs + parked. Each block goes home to its slab, and a slab whose blocks are
  // all free goes back to the page heap for any size; so it bounds what a NULL could still
  // have found. Cached bytes come back only when their owners pass a slow path (or die and
  // are reclaimed).
  uint64_t reclaimable = 0;
  uint64_t free_run_bytes = 0;
  uint64_t retained = 0;  // purged, reusable: free-run pages and parked slab pages
  uint64_t dirty = 0;     // free page runs still backed: free_run_bytes - retained
  uint64_t metadata = 0;  // bytes before the data pages
  uint64_t nmalloc = 0, nfree = 0, nslabs = 0;
  uint64_t large_allocated = 0, large_nmalloc = 0, large_nfree = 0;
  uint64_t requested = 0, handed_out = 0;
  uint64_t invalid_frees = 0, double_frees = 0, failed_allocs = 0;
  uint64_t purge_count = 0, purged_bytes = 0, purge_ns = 0;
  std::array<uint64_t, 3> purges_by_reason{};  // indexed by PurgeReason (purge.h)
  uint32_t attached_procs = 0, thread_caches = 0;
  std::vector<ClassStats> classes;  // classes with any activity

  uint64_t committed = 0;  // pages in slabs, large runs and pools: what the quota limits
  // Every counter of kExportedCounters (layout.h), in its order.
  std::array<uint64_t, kNumExportedCounters> exported{};

  // The ratios, each defined here once; empty where the denominator is zero.
  //   external fragmentation  1 - allocated / active (the share of slab and large-run bytes
  //                           that hold no live block); empty when nothing is allocated,
  //                           since what is then active is idle, not fragmented
  //   internal fragmentation  1 - requested / handed_out; empty before any allocation
  //   rss ratio               resident / allocated; empty when nothing is allocated
  std::optional<double> external_fragmentation() const {
    return ExternalFragmentation(allocated, active);
  }
  std::optional<double> internal_fragmentation() const {
    return InternalFragmentation(requested, handed_out);
  }
  std::optional<double> rss_ratio() const {
    if (allocated == 0) return std::nullopt;
    return double(resident) / double(allocated);
  }
};

ArenaStats CollectStats(const Segment& seg);

// Where a class's free bytes outside thread caches sit, from its central counters alone (a
// few loads, no walk): what CollectStats reports and the purge policy looks at.
struct CentralFree {
  uint64_t free_in_slabs = 0;  // as in ClassStats
  uint64_t parked = 0;
  uint64_t in_ring = 0;
};
CentralFree CentralFreeOf(const Segment& seg, uint32_t cls);

}  // namespace shmpool::shm
