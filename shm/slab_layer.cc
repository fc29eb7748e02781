#include "shm/slab_layer.h"

#include <algorithm>

#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/page_heap.h"
#include "shm/slab_lists.h"
#include "shm/slab_park.h"

namespace shmpool::shm {
namespace {

using Hook = void (*)();
constinit Hook return_blocks_hook = nullptr;

// Links every block of the slab at page `start` into one chain, each with its free tag,
// and publishes the chain as the slab's free list. Class mutex held.
void InitSlab(const Segment& seg, uint32_t cls, uint32_t start) {
  const SizeClassInfo& info = Class(cls);
  const uint64_t first = seg.page_offset(start);
  for (uint32_t i = 0; i < info.blocks; ++i) {
    const uint64_t off = first + uint64_t{i} * info.size;
    FreeBlock& b = seg.block(off);
    b.next = i + 1 < info.blocks ? off + info.size : 0;
    b.tag = seg.free_tag(off);
  }
  RunMeta& r = seg.run(start);
  r.free_head = first;
  r.free_count = info.blocks;
  r.parked = 0;
  r.backed_pages = r.pages;
  ClassCentral& c = seg.central(cls);
  LinkSlab(seg, c, start, ListFor(r, info));
  FetchAddRelaxed(c.xfree_in_slabs, uint64_t{info.blocks});
}

// Makes a new slab of `cls` with every block free and tagged; false when out of memory.
// Crash window: between AllocRun's commit and the publication of its chain the slab
// exists with an empty free list (AllocRun zeroes its RunMeta), so a recount would take
// all of its blocks for allocated. AllocRun announces the run's first block in
// transit.xpos before committing it (cleared once the chain is published, before any block
// of it is taken); RepairClass carves the slab again when its free list is still empty.
bool NewSlab(const Segment& seg, uint32_t cls, Transit& transit) {
  const SizeClassInfo& info = Class(cls);
  const uint32_t start = AllocRun(seg, info.slab_pages, kPageSlab, cls, &transit.xpos);
  if (start == kNoRun) {
    StoreRelaxed(transit.xpos, uint64_t{0});
    return false;
  }
  InitSlab(seg, cls, start);
  ClassCentral& c = seg.central(cls);
  FetchAddRelaxed(c.xnslabs, uint64_t{1});
  FetchAddRelaxed(c.xslabs_created, uint64_t{1});
  StoreRelaxed(transit.xpos, uint64_t{0});
  return true;
}

// The repair's half of NewSlab's crash window: the slab whose first block is at `first`
// (0: none) is carved again if it is still a slab of `cls` with an empty free list. Exact:
// no block of a slab is handed out before its chain is published.
void FinishNewSlab(const Segment& seg, uint32_t cls, uint64_t first) {
  if (first < seg.sections().data || first >= seg.sections().total) return;
  const uint64_t page = seg.page_of(first);
  if (page >= LoadRelaxed(seg.header().heap.xfrontier_pages)) return;
  const uint64_t e = LoadRelaxed(seg.page_entry(page));
  if (PageEntry::KindOf(e) != kPageSlab || PageEntry::ClassOf(e) != cls ||
      PageEntry::StartOf(e) != page || seg.page_offset(page) != first)
    return;
  const RunMeta& r = seg.run(page);
  if (r.free_head != 0 || r.free_count != 0 || r.pages != Class(cls).slab_pages) return;
  // Killed among AllocRun's page-map stores: the run is not whole (left as it is).
  for (uint64_t p = page; p < page + r.pages; ++p) {
    const uint64_t pe = LoadRelaxed(seg.page_entry(p));
    if (PageEntry::KindOf(pe) != kPageSlab || PageEntry::StartOf(pe) != page) return;
  }
  InitSlab(seg, cls, static_cast<uint32_t>(page));
}

// The slab (first page) holding block `b` of class `cls`, or kNoRun when b is no block of
// that class.
uint32_t SlabOf(const Segment& seg, uint32_t cls, uint64_t b) {
  const Sections& s = seg.sections();
  if (b < s.data || b >= s.total) return kNoRun;
  const uint64_t e = LoadRelaxed(seg.page_entry(seg.page_of(b)));
  if (PageEntry::KindOf(e) != kPageSlab || PageEntry::ClassOf(e) != cls) return kNoRun;
  if (!IsBlockStart(b - s.data - PageEntry::StartBytes(e), Class(cls))) return kNoRun;
  return PageEntry::StartOf(e);
}

bool SlabHolds(const Segment& seg, uint32_t cls, uint32_t slab, uint64_t b) {
  uint32_t n = 0;
  for (uint64_t x = seg.run(slab).free_head; x && n <= Class(cls).blocks;
       x = seg.block(x).next, ++n)
    if (x == b) return true;
  return false;
}

// Gives `slab`, whose blocks are all free (listed or parked), back to the page heap.
void ReleaseSlab(const Segment& seg, uint32_t cls, uint32_t slab, SlabList was) {
  ClassCentral& c = seg.central(cls);
  const RunMeta& r = seg.run(slab);
  if (was != kNoList) UnlinkSlab(seg, c, slab, was);
  FetchAddRelaxed(c.xfree_in_slabs, -uint64_t{Class(cls).blocks});
  FetchAddRelaxed(c.xparked_pages, -uint64_t{r.pages - r.backed_pages});
  FetchAddRelaxed(c.xparked_blocks, -uint64_t{r.parked});
  FetchAddRelaxed(c.xnslabs, -uint64_t{1});
  FetchAddRelaxed(c.xslabs_released, uint64_t{1});
  SHMPOOL_CHECK(FreeRun(seg, slab, kPageSlab));
}

// Pushes free block b onto its slab (class mutex held); releases the slab when it empties.
void PushHome(const Segment& seg, uint32_t cls, uint32_t slab, uint64_t b) {
  ClassCentral& c = seg.central(cls);
  RunMeta& r = seg.run(slab);
  const SlabList was = ListFor(r, Class(cls));
  seg.block(b).next = r.free_head;
  r.free_head = b;
  FetchAddRelaxed(c.xfree_in_slabs, uint64_t{1});
  ++r.free_count;
  if (r.free_count + r.parked == Class(cls).blocks)
    ReleaseSlab(seg, cls, slab, was);
  else
    Relist(seg, cls, slab, was);
}

// Pushes block b home, with its free tag, unless it is no block of `cls` or its slab holds
// it already. Class mutex held.
void PushIfAbsent(const Segment& seg, uint32_t cls, uint64_t b) {
  const uint32_t slab = b ? SlabOf(seg, cls, b) : kNoRun;
  if (slab == kNoRun || SlabHolds(seg, cls, slab, b)) return;
  seg.block(b).tag = seg.free_tag(b);
  PushHome(seg, cls, slab, b);
}

// Recounts every slab of `cls` from its chain and page map (dropping listed blocks that a
// parked page holds back: slab_park.h) and rebuilds both lists.
void RecountClass(const Segment& seg, uint32_t cls) {
  ClassCentral& c = seg.central(cls);
  const SizeClassInfo& info = Class(cls);
  std::fill(std::begin(c.partial_heads), std::end(c.partial_heads), 0u);
  c.parked_head = 0;
  uint64_t nslabs = 0, free_blocks = 0, parked_pages = 0, parked_blocks = 0;
  PageHeapState& h = seg.header().heap;
  RobustLock heap_lock(h.mutex, [&] { RepairPageHeap(seg); });
  const uint32_t frontier = h.frontier;
  SHMPOOL_CHECK(frontier <= seg.data_pages());
  for (uint32_t p = 0; p < frontier;) {
    const uint64_t e = LoadRelaxed(seg.page_entry(p));
    RunMeta& r = seg.run(p);
    if (PageEntry::KindOf(e) == kPageSlab && PageEntry::SlabClassOf(e) == cls) {
      uint32_t parked = 0;
      // Walks the chain (checking every block is one of this slab) and sets free_count.
      parked_pages += RepairSlabParking(seg, cls, p, &parked);
      SHMPOOL_CHECK(r.free_count + parked <= info.blocks);
      if (ListFor(r, info) != kNoList) LinkSlab(seg, c, p, ListFor(r, info));
      ++nslabs;
      free_blocks += r.free_count + parked;
      parked_blocks += parked;
    }
    const uint32_t pages = r.pages;  // read once: the segment may change under the walk
    SHMPOOL_CHECK(pages > 0 && uint64_t{p} + pages <= frontier);  // p starts a run
    p += pages;
  }
  StoreRelaxed(c.xnslabs, nslabs);
  StoreRelaxed(c.xfree_in_slabs, free_blocks);
  StoreRelaxed(c.xparked_pages, parked_pages);
  StoreRelaxed(c.xparked_blocks, parked_blocks);
}

// Holds the class mutex and names the holder's Transit for the repair after a crash. Like
// RobustLock, locking first runs `repair` (RepairClass) when the previous holder died
// holding the mutex (EOWNERDEAD), before the caller's operation.
class ClassLock {
 public:
  using Repair = void (*)(const Segment& seg, uint32_t cls);
  ClassLock(const Segment& seg, uint32_t cls, Transit& transit, Repair repair)
      : seg_(seg), c_(seg.central(cls)), transit_(transit), uncaught_(std::uncaught_exceptions()) {
    if (c_.mutex.Lock() == RobustMutex::LockResult::kOwnerDied) {
      try {
        repair(seg, cls);
      } catch (...) {
        c_.mutex.UnlockUnrepaired();
        throw;
      }
      c_.mutex.MarkConsistent();
    }
    const uint64_t at = static_cast<uint64_t>(reinterpret_cast<char*>(&transit) - seg.base());
    c_.holder_transit = at < seg.sections().total ? at : 0;  // private Transits: none
  }
  // Throws only what a failed unlock throws, and never while unwinding (robust_mutex.h).
  ~ClassLock() noexcept(false) {
    c_.holder_transit = 0;
    if (&transit_ == &c_.transit) {  // the shared record is free again for the next holder
      StoreRelaxed(transit_.xop, static_cast<uint32_t>(Transit::kNone));
      StoreRelaxed(transit_.xbatch, uint64_t{0});
      StoreRelaxed(transit_.xpos, uint64_t{0});
    }
    c_.mutex.UnlockFromGuard(uncaught_);
  }
  ClassLock(const ClassLock&) = delete;
  ClassLock& operator=(const ClassLock&) = delete;

 private:
  const Segment& seg_;
  ClassCentral& c_;
  Transit& transit_;
  int uncaught_;
};

}  // namespace

namespace {

// Gives every slab of `cls` whose blocks are all free back to the page heap (class mutex
// held). PushHome does this as a slab empties; a recount after a crash can find more.
uint64_t ReleaseEmptySlabsLocked(const Segment& seg, uint32_t cls) {
  ClassCentral& c = seg.central(cls);
  const SizeClassInfo& info = Class(cls);
  uint64_t released = 0;
  for (SlabList list = 0; list < kNoList; ++list) {
    uint64_t steps = 0;  // a list holds at most one slab per page: longer is a cycle
    for (uint32_t i = HeadOf(c, list); i;) {
      SHMPOOL_CHECK(++steps <= seg.data_pages());
      const uint32_t slab = i - 1;
      const RunMeta& r = seg.run(slab);
      i = r.next;
      if (r.free_count + r.parked != info.blocks) continue;
      ReleaseSlab(seg, cls, slab, list);
      ++released;
    }
  }
  return released;
}

// Pushes home the chain at t.xbatch, block by block unless its slab holds it, keeping the
// Transit exact as ReturnBlocks does (xpos = the block being pushed, xbatch = the rest), so
// a repairer killed here leaves the next repair the same record to finish. Stops at
// anything that is no block of `cls`. Class mutex held.
void PushRecorded(const Segment& seg, uint32_t cls, Transit& t) {
  const uint64_t limit = (seg.data_pages() << kPageShift) / kMinBlock;  // no chain is longer
  uint64_t steps = 0;
  for (uint64_t b = LoadRelaxed(t.xbatch); b && steps++ < limit;) {
    const uint32_t slab = SlabOf(seg, cls, b);
    if (slab == kNoRun) break;
    const uint64_t next = seg.block(b).next;
    StoreRelaxed(t.xpos, b);
    StoreRelaxed(t.xbatch, next);
    PushIfAbsent(seg, cls, b);
    b = next;
  }
}

// Finishes the dead holder's operation: every block it was moving that no slab holds goes
// home. Exact, because nobody could take blocks from these slabs since it died; restartable,
// because holder_transit names the record until it is clear and the record stays exact.
void FinishHolderStep(const Segment& seg, uint32_t cls) {
  ClassCentral& c = seg.central(cls);
  const uint64_t at = c.holder_transit;
  if (at == 0 || at > seg.sections().total - sizeof(Transit) || at % alignof(Transit) != 0) {
    c.holder_transit = 0;
    return;
  }
  Transit& t = *reinterpret_cast<Transit*>(seg.base() + at);
  if (LoadRelaxed(t.xop) == Transit::kFromSlabs) {
    FinishNewSlab(seg, cls, LoadRelaxed(t.xpos));
    StoreRelaxed(t.xpos, uint64_t{0});
    StoreRelaxed(t.xop, static_cast<uint32_t>(Transit::kToSlabs));  // the rest: a push
  }
  if (LoadRelaxed(t.xop) == Transit::kToSlabs) {
    // xpos == xbatch: killed between ReturnBlocks' two stores, before the push; the chain
    // from xbatch is whole then, and pushing xpos alone first would cut it.
    if (LoadRelaxed(t.xpos) != LoadRelaxed(t.xbatch)) PushIfAbsent(seg, cls, LoadRelaxed(t.xpos));
    PushRecorded(seg, cls, t);
  }
  StoreRelaxed(t.xop, static_cast<uint32_t>(Transit::kNone));
  StoreRelaxed(t.xbatch, uint64_t{0});
  StoreRelaxed(t.xpos, uint64_t{0});
  c.holder_transit = 0;
}

}  // namespace

void RepairClass(const Segment& seg, uint32_t cls) {
  RecountClass(seg, cls);
  FinishHolderStep(seg, cls);
  ReleaseEmptySlabsLocked(seg, cls);
}

uint64_t ReleaseEmptySlabs(const Segment& seg, uint32_t cls) {
  ClassLock lock(seg, cls, seg.central(cls).transit, RepairClass);
  return ReleaseEmptySlabsLocked(seg, cls);
}

uint64_t ParkFreePages(const Segment& seg, uint32_t cls) {
  ClassCentral& c = seg.central(cls);
  ClassLock lock(seg, cls, c.transit, RepairClass);
  uint64_t parked = 0;
  for (SlabList list = 0; list < kPartialBuckets; ++list) {
    uint64_t steps = 0;  // a list holds at most one slab per page: longer is a cycle
    for (uint32_t i = c.partial_heads[list]; i;) {
      SHMPOOL_CHECK(++steps <= seg.data_pages());
      const uint32_t slab = i - 1;
      i = seg.run(slab).next;  // parking moves the slab to another list
      parked += ParkSlabPages(seg, cls, slab);
    }
  }
  return parked;
}

uint32_t TakeBlocks(const Segment& seg, uint32_t cls, uint32_t want, Transit& transit,
                    uint64_t* head) {
  ClassCentral& c = seg.central(cls);
  ClassLock lock(seg, cls, transit, RepairClass);
  StoreRelaxed(transit.xcls, cls);
  StoreRelaxed(transit.xbatch, uint64_t{0});
  StoreRelaxed(transit.xpos, uint64_t{0});  // NewSlab's window only: see FinishNewSlab
  StoreRelaxed(transit.xop, static_cast<uint32_t>(Transit::kFromSlabs));
  uint64_t out = 0, tail = 0;
  uint32_t n = 0;
  while (n < want) {
    // Resident free blocks first, then parked ones, then a new slab.
    if (!FullestPartial(c) && c.parked_head &&
        UnparkBlocks(seg, cls, c.parked_head - 1, want - n) == 0)
      break;  // the file system could not back a page
    if (!FullestPartial(c) && !NewSlab(seg, cls, transit)) break;
    const uint32_t slab = FullestPartial(c) - 1;
    RunMeta& r = seg.run(slab);
    const SlabList was = ListFor(r, Class(cls));
    const uint32_t k = std::min(want - n, r.free_count);
    uint64_t last = r.free_head;
    for (uint32_t i = 1; i < k; ++i) last = seg.block(last).next;
    // Link first, record, then cut: a crash leaves the blocks in the slab (found there).
    // The record is a release store (the link lands before it) and KeepStoreOrder keeps
    // the cut's stores after it.
    if (tail)
      seg.block(tail).next = r.free_head;
    else
      out = r.free_head;
    StoreRelease(transit.xbatch, out);
    KeepStoreOrder();
    r.free_head = seg.block(last).next;
    seg.block(last).next = 0;
    tail = last;
    r.free_count -= k;
    n += k;
    FetchAddRelaxed(c.xfree_in_slabs, -uint64_t{k});
    Relist(seg, cls, slab, was);
  }
  *head = out;
  return n;
}

void ReturnBlocks(const Segment& seg, uint32_t cls, uint64_t head, Transit& transit) {
  ClassLock lock(seg, cls, transit, RepairClass);
  if (return_blocks_hook != nullptr) [[unlikely]]
    return_blocks_hook();
  StoreRelaxed(transit.xcls, cls);
  StoreRelaxed(transit.xbatch, head);
  StoreRelaxed(transit.xop, static_cast<uint32_t>(Transit::kToSlabs));
  uint32_t n = 0;  // every caller returns at most a batch: longer is a cycle
  for (uint64_t b = head; b;) {
    SHMPOOL_CHECK(++n <= Class(cls).batch);
    const uint64_t next = seg.block(b).next;
    const uint32_t slab = SlabOf(seg, cls, b);
    SHMPOOL_CHECK(slab != kNoRun);
    // Name b and the rest before b's link changes: the repair pushes b unless its slab
    // already holds it, then returns the rest.
    StoreRelaxed(transit.xpos, b);
    StoreRelaxed(transit.xbatch, next);
    PushHome(seg, cls, slab, b);
    b = next;
  }
  StoreRelaxed(transit.xpos, uint64_t{0});
}

void SetReturnBlocksHookForTesting(void (*hook)()) { return_blocks_hook = hook; }

}  // namespace shmpool::shm
