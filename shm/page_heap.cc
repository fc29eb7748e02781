#include "shm/page_heap.h"

#include <algorithm>

#include "shm/atomics.h"
#include "shm/check.h"

namespace shmpool::shm {
namespace {

enum JournalOp : uint32_t { kJournalNone = 0, kJournalAlloc = 1, kJournalFree = 2 };
// Pages reserved ahead of the frontier at a time, so most slab allocations need no syscall.
constexpr uint32_t kBackChunkPages = 512;

uint32_t BucketOf(uint32_t pages) {
  SHMPOOL_CHECK(pages > 0);
  return std::min(pages, kFreeRunBuckets) - 1;
}

// The frontier, checked against the geometry: every walk of the page map ends below it.
uint32_t CheckedFrontier(const Segment& seg) {
  const uint32_t frontier = seg.header().heap.frontier;
  SHMPOOL_CHECK(frontier <= seg.data_pages());
  return frontier;
}

void SetEntry(const Segment& seg, uint32_t page, uint32_t cls, PageKind kind, uint32_t start) {
  StoreRelaxed(seg.page_entry(page), PageEntry::Make(cls, kind, start));
}

void Unlink(const Segment& seg, uint32_t start) {
  PageHeapState& h = seg.header().heap;
  RunMeta& r = seg.run(start);
  if (r.prev)
    seg.run(r.prev - 1).next = r.next;
  else
    h.buckets[BucketOf(r.pages)] = r.next;
  if (r.next) seg.run(r.next - 1).prev = r.prev;
  r.prev = r.next = 0;
}

// Makes [start, start + pages) one free run: marks its pages, links it into its bucket.
// `mark_from`..`mark_to` are the pages whose entries still need the free kind.
void InsertFree(const Segment& seg, uint32_t start, uint32_t pages, uint32_t backed,
                uint32_t mark_from, uint32_t mark_to) {
  PageHeapState& h = seg.header().heap;
  for (uint32_t p = mark_from; p < mark_to; ++p) SetEntry(seg, p, 0, kPageFree, start);
  SetEntry(seg, start, 0, kPageFree, start);
  SetEntry(seg, start + pages - 1, 0, kPageFree, start);
  RunMeta& r = seg.run(start);
  r.pages = pages;
  r.backed_pages = backed;
  r.free_count = 0;
  r.free_head = 0;
  r.prev = 0;
  r.next = h.buckets[BucketOf(pages)];
  if (r.next) seg.run(r.next - 1).prev = start + 1;
  h.buckets[BucketOf(pages)] = start + 1;
}

// Finds a free run of at least `pages`: exact buckets first, then best fit among the big.
uint32_t FindFree(const Segment& seg, uint32_t pages) {
  PageHeapState& h = seg.header().heap;
  for (uint32_t b = BucketOf(pages); b + 1 < kFreeRunBuckets; ++b)
    if (h.buckets[b]) return h.buckets[b] - 1;
  uint32_t best = kNoRun, best_pages = ~uint32_t{0};
  uint64_t steps = 0;  // a list holds at most one run per page: longer is a cycle
  for (uint32_t i = h.buckets[kFreeRunBuckets - 1]; i; i = seg.run(i - 1).next) {
    SHMPOOL_CHECK(++steps <= seg.data_pages());
    const uint32_t n = seg.run(i - 1).pages;
    if (n >= pages && n < best_pages) best = i - 1, best_pages = n;
  }
  return best;
}

// Backs the data, page-map and run-metadata of pages [from, to).
bool BackPages(const Segment& seg, uint32_t from, uint32_t to) {
  const Sections& s = seg.sections();
  return seg.Back(seg.page_offset(from), uint64_t{to - from} << kPageShift) &&
         seg.Back(s.pagemap + uint64_t{from} * sizeof(uint64_t),
                  uint64_t{to - from} * sizeof(uint64_t)) &&
         seg.Back(s.runs + uint64_t{from} * sizeof(RunMeta), uint64_t{to - from} * sizeof(RunMeta));
}

// Takes `pages` pages at the frontier, backing them first. kNoRun when out of room. A free
// run that ends at the frontier (shorter than `pages`, or FindFree would have taken it)
// starts the new run, so an empty heap can still hand out its whole capacity at once.
uint32_t Carve(const Segment& seg, uint32_t pages) {
  PageHeapState& h = seg.header().heap;
  const uint64_t npages = seg.data_pages();
  uint32_t start = h.frontier;
  if (start > 0) {
    const uint64_t e = LoadRelaxed(seg.page_entry(start - 1));
    if (PageEntry::KindOf(e) == kPageFree) start = PageEntry::StartOf(e);
  }
  const uint32_t tail = h.frontier - start;  // pages of that free run
  SHMPOOL_ASSERT(tail < pages);
  if (uint64_t{start} + pages > npages) return kNoRun;
  const uint32_t need = start + pages;
  if (need > h.backed_frontier) {
    const uint32_t ahead = static_cast<uint32_t>(
        std::min<uint64_t>(npages, std::max<uint64_t>(need, h.backed_frontier + kBackChunkPages)));
    if (BackPages(seg, h.backed_frontier, ahead)) {
      h.backed_frontier = ahead;
    } else if (ahead > need && BackPages(seg, h.backed_frontier, need)) {
      h.backed_frontier = need;
    } else {
      return kNoRun;
    }
  }
  const uint32_t tail_backed = tail ? seg.run(start).backed_pages : 0;
  if (tail_backed < tail && !seg.Back(seg.page_offset(start), uint64_t{tail} << kPageShift))
    return kNoRun;
  // Journal first: a crash before the frontier moves leaves a journal reaching past it,
  // which repair clamps (page_heap.h).
  h.journal_start = start;
  h.journal_pages = pages;
  h.journal_op = kJournalAlloc;
  if (tail) {
    Unlink(seg, start);
    FetchAddRelaxed(h.xfree_pages, -uint64_t{tail});
    FetchAddRelaxed(h.xretained_pages, -uint64_t{tail - tail_backed});
  }
  h.frontier = need;
  StoreRelaxed(h.xfrontier_pages, uint64_t{need});
  return start;
}

// Takes a run of `pages` out of the free run at `start`, backing it if it was purged.
bool TakeFree(const Segment& seg, uint32_t start, uint32_t pages) {
  PageHeapState& h = seg.header().heap;
  RunMeta& r = seg.run(start);
  const uint32_t total = r.pages, backed = r.backed_pages;
  uint32_t rem_backed = total - pages;
  if (backed == 0) {  // purged: back just what is taken
    if (!seg.Back(seg.page_offset(start), uint64_t{pages} << kPageShift)) return false;
    FetchAddRelaxed(h.xretained_pages, -uint64_t{pages});
    rem_backed = 0;
  } else if (backed < total) {  // partly purged (after coalescing): back it all
    if (!seg.Back(seg.page_offset(start), uint64_t{total} << kPageShift)) return false;
    FetchAddRelaxed(h.xretained_pages, -uint64_t{total - backed});
  }
  h.journal_start = start;
  h.journal_pages = pages;
  h.journal_op = kJournalAlloc;
  Unlink(seg, start);
  FetchAddRelaxed(h.xfree_pages, -uint64_t{total});
  if (total > pages) {
    InsertFree(seg, start + pages, total - pages, rem_backed, start + pages, start + pages);
    FetchAddRelaxed(h.xfree_pages, uint64_t{total - pages});
  }
  return true;
}

// True (and counted) when `pages` more committed pages would exceed the tenant's quota.
// Committed pages = frontier - free pages: exact under the mutex, since runs cover
// [0, frontier) exactly.
bool OverQuota(const Segment& seg, uint32_t pages) {
  TenantState& t = seg.header().tenant;
  const uint64_t quota = LoadRelaxed(t.xquota_bytes);
  if (quota == 0) return false;
  const PageHeapState& h = seg.header().heap;
  const uint64_t committed = uint64_t{h.frontier} - LoadRelaxed(h.xfree_pages);
  if ((committed + pages) << kPageShift <= quota) return false;
  FetchAddRelaxed(t.xquota_refusals, uint64_t{1});
  return true;
}

}  // namespace

uint64_t CommittedBytes(const Segment& seg) {
  const PageHeapState& h = seg.header().heap;
  const uint64_t frontier = LoadRelaxed(h.xfrontier_pages), free = LoadRelaxed(h.xfree_pages);
  return frontier > free ? (frontier - free) << kPageShift : 0;
}

void RepairPageHeap(const Segment& seg) {
  PageHeapState& h = seg.header().heap;
  const uint32_t frontier = CheckedFrontier(seg);
  // Roll the interrupted operation back (alloc) or forward (free): either way its pages
  // end up free, which is right because the caller died holding the mutex.
  // A carve cut before the frontier moved journals pages past it: nobody got those.
  if (h.journal_op != kJournalNone) {
    const uint64_t end = std::min<uint64_t>(uint64_t{h.journal_start} + h.journal_pages, frontier);
    for (uint32_t p = h.journal_start; p < end; ++p)
      SetEntry(seg, p, 0, kPageFree, h.journal_start);
    h.journal_op = kJournalNone;
  }
  // A page below the frontier that was never marked belongs to a carve cut after the
  // frontier moved but before the run was marked (the stores may land in either order):
  // nobody got it either, so it is free.
  auto is_free = [&seg](uint32_t page) {
    const PageKind k = PageEntry::KindOf(LoadRelaxed(seg.page_entry(page)));
    return k == kPageFree || k == kPageUnused;
  };
  std::fill(std::begin(h.buckets), std::end(h.buckets), 0u);
  uint64_t free_pages = 0, retained = 0, large_pages = 0;
  uint32_t p = 0;
  while (p < frontier) {
    const uint64_t e = LoadRelaxed(seg.page_entry(p));
    const PageKind kind = PageEntry::KindOf(e);
    if (is_free(p)) {
      uint32_t end = p + 1;
      uint64_t backed = 0;
      // A free run's own backed count is exact only at its start; sum what we know.
      while (end < frontier && is_free(end)) ++end;
      for (uint32_t q = p; q < end;) {
        const RunMeta& r = seg.run(q);
        const bool is_start = PageEntry::StartOf(LoadRelaxed(seg.page_entry(q))) == q &&
                              r.pages > 0 && uint64_t{q} + r.pages <= end;
        if (is_start) {
          backed += std::min(r.backed_pages, r.pages);
          q += r.pages;
        } else {
          backed += 1;  // unknown: count as backed, so purge will punch it
          ++q;
        }
      }
      InsertFree(seg, p, end - p, static_cast<uint32_t>(std::min<uint64_t>(backed, end - p)), p,
                 end);
      free_pages += end - p;
      retained += (end - p) - std::min<uint64_t>(backed, end - p);
      p = end;
    } else {
      SHMPOOL_CHECK(kind == kPageSlab || kind == kPageLarge || kind == kPagePool);
      SHMPOOL_CHECK(PageEntry::StartOf(e) == p);
      const uint32_t n = seg.run(p).pages;
      SHMPOOL_CHECK(n > 0 && uint64_t{p} + n <= frontier);
      if (kind == kPageLarge) large_pages += n;
      p += n;
    }
  }
  StoreRelaxed(h.xlarge_pages, large_pages);
  StoreRelaxed(h.xfree_pages, free_pages);
  StoreRelaxed(h.xretained_pages, retained);
  StoreRelaxed(h.xfrontier_pages, uint64_t{frontier});
}

uint32_t AllocRun(const Segment& seg, uint32_t pages, PageKind kind, uint32_t cls_or_pool_slot,
                  std::atomic<uint64_t>* announce) {
  SHMPOOL_ASSERT(pages > 0 && (kind == kPageSlab || kind == kPageLarge || kind == kPagePool));
  PageHeapState& h = seg.header().heap;
  RobustLock lock(h.mutex, [&] { RepairPageHeap(seg); });
  if (OverQuota(seg, pages)) return kNoRun;
  uint32_t start = FindFree(seg, pages);
  if (start != kNoRun) {
    if (!TakeFree(seg, start, pages)) start = kNoRun;
  } else {
    start = Carve(seg, pages);
  }
  if (start == kNoRun) return kNoRun;
  if (announce != nullptr) StoreRelaxed(*announce, seg.page_offset(start));
  RunMeta& r = seg.run(start);
  r = RunMeta{};
  r.pages = pages;
  r.backed_pages = pages;
  const uint64_t entry = kind == kPagePool ? PageEntry::MakePool(cls_or_pool_slot, start)
                                           : PageEntry::Make(cls_or_pool_slot, kind, start);
  for (uint32_t p = start; p < start + pages; ++p) StoreRelaxed(seg.page_entry(p), entry);
  if (kind == kPageLarge) FetchAddRelaxed(h.xlarge_pages, uint64_t{pages});
  h.journal_op = kJournalNone;
  return start;
}

bool FreeRun(const Segment& seg, uint32_t start, PageKind kind) {
  PageHeapState& h = seg.header().heap;
  RobustLock lock(h.mutex, [&] { RepairPageHeap(seg); });
  const uint32_t frontier = CheckedFrontier(seg);
  if (start >= frontier) return false;
  const uint64_t e = LoadRelaxed(seg.page_entry(start));
  if (PageEntry::StartOf(e) != start || PageEntry::KindOf(e) != kind) return false;
  uint32_t pages = seg.run(start).pages;
  SHMPOOL_CHECK(pages > 0 && uint64_t{start} + pages <= frontier);
  h.journal_start = start;
  h.journal_pages = pages;
  h.journal_op = kJournalFree;
  const uint32_t freed_from = start, freed_to = start + pages;
  // A slab may come back with parked pages (slab_park.h): they stay unbacked, now retained.
  uint32_t backed = std::min(seg.run(start).backed_pages, pages);
  FetchAddRelaxed(h.xfree_pages, uint64_t{pages});
  FetchAddRelaxed(h.xretained_pages, uint64_t{pages - backed});
  if (kind == kPageLarge) FetchAddRelaxed(h.xlarge_pages, -uint64_t{pages});
  if (start > 0) {
    const uint64_t pe = LoadRelaxed(seg.page_entry(start - 1));
    if (PageEntry::KindOf(pe) == kPageFree) {
      const uint32_t ps = PageEntry::StartOf(pe);
      SHMPOOL_CHECK(ps < start && uint64_t{ps} + seg.run(ps).pages == start);
      Unlink(seg, ps);
      backed += seg.run(ps).backed_pages;
      pages += seg.run(ps).pages;
      start = ps;
    }
  }
  const uint32_t after = start + pages;
  if (after < frontier) {
    const uint64_t ne = LoadRelaxed(seg.page_entry(after));
    if (PageEntry::KindOf(ne) == kPageFree) {
      SHMPOOL_CHECK(PageEntry::StartOf(ne) == after &&
                    uint64_t{after} + seg.run(after).pages <= frontier);
      Unlink(seg, after);
      backed += seg.run(after).backed_pages;
      pages += seg.run(after).pages;
    }
  }
  InsertFree(seg, start, pages, backed, freed_from, freed_to);
  h.journal_op = kJournalNone;
  return true;
}

uint64_t PurgeFreePages(const Segment& seg) {
  PageHeapState& h = seg.header().heap;
  uint64_t released = 0;
  // Bucket by bucket, run by run; the lock is dropped between buckets so allocation goes on.
  for (uint32_t b = 0; b < kFreeRunBuckets; ++b) {
    RobustLock lock(h.mutex, [&] { RepairPageHeap(seg); });
    uint64_t steps = 0;
    for (uint32_t i = h.buckets[b]; i; i = seg.run(i - 1).next) {
      SHMPOOL_CHECK(++steps <= seg.data_pages());  // longer is a cycle
      RunMeta& r = seg.run(i - 1);
      if (r.backed_pages == 0) continue;
      if (!seg.PunchHole(seg.page_offset(i - 1), uint64_t{r.pages} << kPageShift)) continue;
      released += uint64_t{r.backed_pages} << kPageShift;
      FetchAddRelaxed(h.xretained_pages, uint64_t{r.backed_pages});
      r.backed_pages = 0;
    }
  }
  RobustLock lock(h.mutex, [&] { RepairPageHeap(seg); });
  const uint32_t frontier = CheckedFrontier(seg), backed_frontier = h.backed_frontier;
  SHMPOOL_CHECK(backed_frontier <= seg.data_pages());
  if (backed_frontier > frontier) {
    const uint32_t n = backed_frontier - frontier;
    if (seg.PunchHole(seg.page_offset(frontier), uint64_t{n} << kPageShift)) {
      released += uint64_t{n} << kPageShift;
      h.backed_frontier = frontier;
    }
  }
  return released;
}

}  // namespace shmpool::shm
