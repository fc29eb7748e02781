// The page heap: carves a segment's data pages into runs (slabs and large allocations),
// coalesces freed runs, backs pages with the file before they are handed out, and returns
// free pages to the OS (purge). Slow path: every call takes the robust page-heap mutex.
//
// Crash argument. Each operation writes its intent into PageHeapState's journal before it
// changes anything and clears it last. A holder killed inside an operation leaves the
// mutex EOWNERDEAD; the next holder runs RepairPageHeap(): an interrupted allocation is
// rolled back (its caller died with it, so nobody holds the run), an interrupted free is
// rolled forward, then the free-run lists, counters and coalescing are rebuilt from the
// page map, which is written page by page and so is exact for every page. No page is lost
// or handed out twice; a repaired run whose backing is unknown counts as backed (purge
// will punch it).
#pragma once

#include <cstdint>

#include "shm/segment.h"

namespace shmpool::shm {

inline constexpr uint32_t kNoRun = ~uint32_t{0};

// Allocates a run of `pages` pages of the given kind, backed by the file; the run's page-map
// entries carry `cls_or_pool_slot`: the size class for a slab, the pool's slot (PoolSlot, in
// the aux bits) for a pool, 0 for a large run. Returns its first page, or kNoRun when the
// segment is exhausted, the file system is full, or the run would take the committed bytes
// past the tenant's quota (TenantState: then xquota_refusals counts it).
// `announce`, when given, receives the run's first byte offset before the run is committed
// (so a holder killed inside can be finished: see NewSlab in slab_layer.cc).
uint32_t AllocRun(const Segment& seg, uint32_t pages, PageKind kind, uint32_t cls_or_pool_slot,
                  std::atomic<uint64_t>* announce = nullptr);

// Frees the run starting at `start` if it is a live run of `kind`, coalescing with its
// neighbours. False (nothing changed) when it is not: an invalid or double free.
bool FreeRun(const Segment& seg, uint32_t start, PageKind kind);

// Bytes in runs (slabs, large, pools): what the quota limits. Lock-free, racy (stats).
uint64_t CommittedBytes(const Segment& seg);

// Punches out every backed free page. Returns the bytes released.
uint64_t PurgeFreePages(const Segment& seg);

// Rebuilds the free-run lists and counters from the page map; run with the mutex held.
void RepairPageHeap(const Segment& seg);

}  // namespace shmpool::shm
