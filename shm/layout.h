// The segment format: every byte of a shmpool segment, from the top.
//
//   SegmentHeader      magic, layout version, geometry, section offsets, the page heap's
//                      state, the arena-wide counters, the tenant's quota and the
//                      directory of object pools (pool.h), the
//                      arena's generation (reset), the purger
//                      records (purge.h)                            (one page)
//   ProcRecord[P]      one per attached process                    (P = max_procs)
//   uint32 owner[T]    which process holds each thread cache       (T = max_thread_caches)
//   ClassCentral[C]    per size class: transfer-ring positions, the slab lists' mutex
//   RingCell[C][R]     per size class: the transfer ring           (R = ring_slots)
//   ThreadCache[T]     per-thread bins of free blocks, one per class, with counters
//   PageMap[N]         per data page: kind, size class, first page of its run  (8 B)
//   RunMeta[N]         per data page, read at a run's first page: length, lists, slab state
//   data[N pages]      slabs, large runs and free runs             (N = capacity / 4 KiB)
//
// Every reference stored in a segment is a byte offset from the segment's start (never a
// pointer): processes map it at different addresses. Offset 0 is the header, so 0 is null.
// Page indices are data-relative; in lists they are stored plus one so 0 is null.
//
// Everything a segment holds is zero when created (ftruncate), which is the valid empty
// state of every record; the creator then initialises the mutexes and the header, and
// publishes `xmagic` last with release order. A mapper validates magic, version, class
// table fingerprint, geometry and section offsets (recomputed from the geometry) before
// touching anything else.
//
// Layout version: bump kLayoutVersion on ANY change to a struct below, to a section's order
// or alignment, to the size-class table or to the meaning of a field. layout_test.cc pins
// the sizes and offsets, so an accidental change fails a test.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shm/robust_mutex.h"
#include "shm/size_class.h"

namespace shmpool::shm {

inline constexpr uint64_t kMagic = 0x4c4f4f504d485353ull;  // "SSHMPOOL"
inline constexpr uint32_t kLayoutVersion = 6;
inline constexpr uint32_t kCacheLine = 64;
inline constexpr uint32_t kFreeRunBuckets = 128;  // exact lengths 1..127, then ">= 128"
inline constexpr uint32_t kPartialBuckets = 4;    // partial-slab lists per class, by fullness

// The parameters a segment is created with. No compile-time limit on any of them.
struct Geometry {
  uint64_t capacity = 0;              // bytes of data pages (a multiple of 4 KiB)
  uint32_t max_procs = 1024;          // attached processes at once
  uint32_t max_thread_caches = 4096;  // thread caches at once (more threads use the rings)
  uint32_t ring_slots = 64;           // batches per class ring (a power of two)
  uint32_t reserved = 0;
};

// Byte offsets of each section, derived from a Geometry by ComputeSections().
struct Sections {
  uint64_t procs, owners, classes, rings, caches, pagemap, runs, data, total;
  uint64_t pages;  // data pages
};

// Kinds of a data page.
// A pool run (kPagePool) holds one object pool; its page-map entries carry the pool's slot
// in their aux bits (PageEntry::MakePool) and class 0, so free() refuses its objects.
enum PageKind : uint8_t {
  kPageUnused = 0,
  kPageFree = 1,
  kPageSlab = 2,
  kPageLarge = 3,
  kPagePool = 4
};

// PageMap entry:
//   bits 0-7    size class of a live slab page, else 0. free()'s fast path reads only this
//               (class 0 is never a block start), so every page that is not a live slab
//               page (pool, large, free, or a slab page punched out by purge) fails there.
//   bits 8-10   PageKind
//   bit  11     parked: a slab page punched out by purge (every block on it is parked)
//   bits 12-43  the first page of the run the page belongs to, stored as its byte offset
//               from the data start (page-aligned, so free() subtracts it without shifting)
//   bits 56-63  aux: the pool's slot (pool pages) or the slab's class (parked pages)
// Written under the page-heap mutex for every page of a run when the run changes hands
// (for free runs: every page's kind, and the start at the first and last page), and under
// the class mutex when purge parks a slab page or a refill unparks it (release, before
// the page is punched); read lock-free by free(), before the block's tag and again after
// it (a punched page reads as zero: slab_park.h).
struct PageEntry {
  static constexpr uint64_t kParked = uint64_t{1} << 11;
  static constexpr uint32_t kAuxShift = 56;
  static uint64_t Make(uint32_t cls, PageKind kind, uint32_t start) {
    return uint64_t{cls} | (uint64_t{kind} << 8) | (uint64_t{start} << kPageShift);
  }
  static uint64_t MakePool(uint32_t slot, uint32_t start) {
    return Make(0, kPagePool, start) | (uint64_t{slot} << kAuxShift);
  }
  static uint64_t MakeParked(uint32_t cls, uint32_t start) {
    return Make(0, kPageSlab, start) | kParked | (uint64_t{cls} << kAuxShift);
  }
  // The fast path's class: nonzero only on a live (not parked) slab page.
  static uint32_t ClassOf(uint64_t e) { return e & 0xff; }
  static PageKind KindOf(uint64_t e) { return static_cast<PageKind>((e >> 8) & 0x7); }
  static bool Parked(uint64_t e) { return (e & kParked) != 0; }
  // The class of any slab page, parked or not.
  static uint32_t SlabClassOf(uint64_t e) {
    return Parked(e) ? static_cast<uint32_t>(e >> kAuxShift) : ClassOf(e);
  }
  static uint32_t PoolSlotOf(uint64_t e) { return static_cast<uint32_t>(e >> kAuxShift); }
  static uint32_t StartOf(uint64_t e) { return static_cast<uint32_t>(e >> kPageShift); }
  static uint64_t StartBytes(uint64_t e) { return uint64_t{StartOf(e)} << kPageShift; }
  // StartBytes in one AND: exact only when ClassOf(e) != 0 (no aux bits), as on free()'s
  // fast path, which rejects class 0 anyway.
  static uint64_t LiveSlabStartBytes(uint64_t e) { return e & ~uint64_t{kPageSize - 1}; }
};

// RunMeta: the state of a run, kept at its first page's index.
//   Free run:  pages, prev/next in the free-run bucket list, backed_pages (pages known to
//              be backed by the file; 0 after purge). INVARIANT: 0 <= backed_pages <= pages,
//              and no two free runs are adjacent (they coalesce).
//   Slab:      pages, prev/next in its class's partial or parked list, free_head (chain of
//              free blocks in this slab), free_count, backed_pages (pages not parked) and
//              parked (blocks held back because a page they touch is parked: see
//              slab_purge.h). INVARIANTS: free_count == length of the free_head chain;
//              free_count + parked <= Class(cls).blocks; no block of the chain touches a
//              parked page; parked == the blocks touching a parked page; backed_pages ==
//              pages - parked pages; on a partial list iff free_count > 0, else on the
//              parked list iff parked > 0 (slab_lists.h).
//   Large, pool: pages, free_head = requested bytes (large), backed_pages == pages.
// Guarded by the page-heap mutex (free runs, large) or the class mutex (slab lists).
struct RunMeta {
  uint32_t pages;
  uint32_t prev;  // page index + 1; 0 = none
  uint32_t next;
  uint32_t free_count;
  uint64_t free_head;  // offset of the first free block (slab), or requested bytes (large)
  uint32_t backed_pages;
  uint32_t parked;
};

// A free block, while in a list, holds its link and a tag:
//   word 0: offset of the next block in the chain (0 ends it)
//   word 1: free_tag_key ^ offset; set while the block is free, cleared when handed out.
// free() refuses a block whose word 1 already carries its tag: a double free. The key is
// random per segment, so live data matches a tag with probability 2^-64.
struct FreeBlock {
  uint64_t next;
  uint64_t tag;
};

// The page heap: carves data pages into runs. Guarded by `mutex` (robust); on EOWNERDEAD
// the next holder rebuilds the bucket lists from the PageMap (page_heap.cc).
// INVARIANTS: pages [0, frontier) are covered exactly by runs; pages >= frontier are unused
// and unbacked, except [frontier, backed_frontier) which was reserved ahead (fallocate);
// free_pages == sum of free-run lengths; retained_pages == sum of (pages - backed_pages);
// large_pages == sum of large-run lengths.
struct PageHeapState {
  RobustMutex mutex;
  uint32_t frontier;
  uint32_t backed_frontier;
  uint32_t buckets[kFreeRunBuckets];  // page index + 1 of the first free run of each length
  // Journal of the operation in progress (page_heap.h): op, run start, pages.
  uint32_t journal_op;  // 0 none, 1 alloc, 2 free
  uint32_t journal_start;
  uint32_t journal_pages;
  uint32_t journal_reserved;
  std::atomic<uint64_t> xfree_pages;
  std::atomic<uint64_t> xretained_pages;
  std::atomic<uint64_t> xlarge_pages;  // pages in large runs (exact: kept under the mutex)
  // Mirror of frontier for lock-free readers: every free() reads it, so it has a cache line
  // of its own (the counters above change with every run allocated anywhere). It only grows.
  alignas(kCacheLine) std::atomic<uint64_t> xfrontier_pages;
  char frontier_line_pad[kCacheLine - sizeof(std::atomic<uint64_t>)];
};
static_assert(sizeof(RobustMutex) == 40, "PageHeapState's layout assumes pthread_mutex_t is 40 B");

// Arena-wide counters (any thread, atomic adds: all on slow paths).
struct ArenaCounters {
  std::atomic<uint64_t> xinvalid_frees;
  std::atomic<uint64_t> xdouble_frees;
  std::atomic<uint64_t> xlarge_nmalloc;
  std::atomic<uint64_t> xlarge_nfree;
  std::atomic<uint64_t> xlarge_requested;   // cumulative bytes asked for
  std::atomic<uint64_t> xlarge_handed_out;  // cumulative bytes handed out (whole pages)
  std::atomic<uint64_t> xpurge_count;
  std::atomic<uint64_t> xpurged_bytes;         // cumulative
  std::atomic<uint64_t> xpurge_ns;             // cumulative time spent purging
  std::atomic<uint64_t> xfailed_allocs;        // exhaustion, quota or ENOSPC
  std::atomic<uint64_t> xreclaimed_procs;      // dead processes reclaimed (recovery.h)
  std::atomic<uint64_t> xpurges_by_reason[3];  // by PurgeReason (purge.h): sum == xpurge_count
};

// The tenant's limits, shared by every process (changed online by the daemon).
//   xquota_bytes: committed bytes (pages in slabs, large runs and pools) the page heap may
//   hand out; 0 is no quota. Read by AllocRun under the page-heap mutex, so a change takes
//   effect at the next run allocation. INVARIANT (while the quota is not lowered):
//   (frontier - free_pages) * 4 KiB <= xquota_bytes.
struct TenantState {
  std::atomic<uint64_t> xquota_bytes;
  std::atomic<uint64_t> xquota_refusals;  // AllocRun calls refused by the quota
};

// The directory of object pools (pool.h): slot i names the pool whose run's page-map
// entries carry class i. INVARIANT: state kLive => run_start is a kPagePool run of class i.
inline constexpr uint32_t kMaxPools = 64;
struct PoolSlot {
  enum State : uint32_t { kFree = 0, kCreating = 1, kLive = 2, kDeleting = 3 };
  std::atomic<uint32_t> xstate;
  uint32_t run_start;  // first page of the pool's run
  char name[24];       // NUL-terminated
};

// The arena's generation: a reset (server/core/arena_registry.h) gives the arena a new segment
// file and retires this one, which stays mapped by the clients that still use it.
//   number:       0 for a new arena, +1 per reset; written by the daemon before the file
//                 takes the arena's name, never changed after.
//   xretired_by:  0 while this segment is the arena's current one; once a reset has put
//                 the next generation under the arena's file name, that generation's
//                 number (release store). A client that reads it non-zero maps the arena's
//                 file again (client/src/client.cc).
//   xstale_frees: frees of blocks of retired generations that this generation's clients
//                 refused (never applied to this segment).
struct GenerationState {
  uint64_t number;
  std::atomic<uint64_t> xretired_by;
  std::atomic<uint64_t> xstale_frees;
};

// Intent record: a batch in transit between a thread cache (or a purger: PurgerRecord) and
// its class's ring or slabs. Written before the step that moves it and cleared after, so
// recovery of a dead owner knows which batch may be half-moved (see transfer_ring.h for the
// crash argument).
struct Transit {
  enum Op : uint32_t {
    kNone = 0,
    kToRing = 1,           // batch detached from the bin, ring position not yet claimed
    kFromRing = 2,         // about to claim a ring position to pop
    kToSlabs = 3,          // batch being returned to the slabs: xbatch = the rest of it,
                           // xpos = the block being pushed onto its slab right now
    kFromSlabs = 4,        // chain being taken from the slabs: xbatch = the chain so far,
                           // xpos = first block of a slab being carved (NewSlab), else 0
    kToRingClaimed = 5,    // ring position xpos - 1 claimed for push, cell not published
    kFromRingClaimed = 6,  // ring position xpos - 1 claimed for pop, cell not released
  };
  std::atomic<uint64_t> xbatch;
  std::atomic<uint64_t> xpos;  // ring ops: position + 1 attempted or claimed; slab ops: block
  std::atomic<uint32_t> xop;
  std::atomic<uint32_t> xcls;
};

// A purger's record (purge.h): a purge drains the transfer rings with the Transit of a
// record it holds, so its ring steps are named in the segment like a thread cache's and a
// purger that dies mid-step is found and finished like a dead cache (recovery.h).
//   xowner: 0 when free, else Owner(pid, start time) of the process holding it, in one
//   word (so a reader never sees half of an identity): the pid in bits 0-21 (pids fit in
//   22 bits, the kernel's PID_MAX_LIMIT), the start time (clock ticks after boot) above.
// A purger claims a free record with one CAS (0 -> its owner word) and frees it with a
// release store of 0 once its Transit names nothing; a repairer takes over a dead owner's
// record with one CAS (its word -> the repairer's), finishes the step, then frees it.
// INVARIANT: xowner == 0 => transit.xop == kNone.
inline constexpr uint32_t kMaxPurgers = 4;  // purges draining the rings at once
struct alignas(kCacheLine) PurgerRecord {
  static constexpr uint32_t kPidBits = 22;
  static constexpr uint64_t Owner(uint32_t pid, uint64_t start_time) {
    return start_time << kPidBits | pid;
  }
  static constexpr uint32_t PidOf(uint64_t owner) {
    return static_cast<uint32_t>(owner & ((uint64_t{1} << kPidBits) - 1));
  }
  static constexpr uint64_t StartTimeOf(uint64_t owner) { return owner >> kPidBits; }
  std::atomic<uint64_t> xowner;
  Transit transit;
};

// Reclaim before failing (reclaim.h): an allocation that would return NULL first takes
// back what the arena holds centrally, one process at a time under `mutex` (robust; it
// guards no data, only who drains: each step of a drain is crash-safe by itself).
//   xepoch: central reclaims completed; only grows. A thread cache whose xflush_seen
//           differs returns every block it holds to the slabs on its next slow path
//           (the request to live processes' caches to give back what they hoard).
struct ReclaimState {
  RobustMutex mutex;
  std::atomic<uint64_t> xepoch;
};

struct SegmentHeader {
  std::atomic<uint64_t> xmagic;  // kMagic, published last by the creator
  uint32_t layout_version;
  uint32_t header_bytes;       // sizeof(SegmentHeader)
  uint64_t class_fingerprint;  // hash of the size-class table
  Geometry geometry;
  Sections sections;
  uint64_t free_tag_key;
  uint64_t created_unix_ns;
  alignas(kCacheLine) PageHeapState heap;
  alignas(kCacheLine) ArenaCounters counters;
  alignas(kCacheLine) TenantState tenant;
  alignas(kCacheLine) PoolSlot pools[kMaxPools];
  alignas(kCacheLine) GenerationState generation;
  PurgerRecord purgers[kMaxPurgers];
  alignas(kCacheLine) ReclaimState reclaim;
};
static_assert(sizeof(SegmentHeader) <= 4096, "the header fits its page");

// One class's counters of a thread cache as they were when its current owner claimed it,
// so attribution (client_stats.h) counts only what that owner did: xnmalloc - xnmalloc of
// the base, nfree(cls) - xnfree of the base. Written by the claimer only. Also what a
// process did outside the cache records it holds (ProcRecord::outside).
struct BinBase {
  std::atomic<uint64_t> xnmalloc;
  std::atomic<uint64_t> xnfree;
};

// A process attached to the segment.
// xword holds the record's state (low 32 bits) and its incarnation (high 32 bits), which
// every claim bumps, so a word names one attachment of one process: a record detached and
// claimed again never shows an earlier word (2^32 claims of one record would wrap).
// INVARIANT: state kLive iff the process with (pid, start_time) attached and has not
// detached; its thread caches are exactly those whose owner == index + 1.
// A process claims a free record with one CAS to ClaimBy(its pid) with the next incarnation
// (kClaiming in the low two bits, the pid above them), fills in the fields and then stores
// kLive. The pid in the claim lets the daemon's audit free a record whose claimant was
// killed before kLive (recovery.h: ReleaseAbandonedClaim); pids fit in 22 bits (the
// kernel's PID_MAX_LIMIT). pid and start_time are written only between the claim and
// kLive, so a reader that reads xword, then them, then the same xword again has read the
// identity of that incarnation (recovery.h: ReadProcRecord). Every later change of the
// word is a CAS from the exact word: kLive -> kFree by the process (detach), kLive -> kDead
// by the reclaimer and kDead -> kFree when its reclaim is done, claim -> kFree by the audit
// (ReleaseAbandonedClaim), so a verdict about one incarnation never acts on the next.
struct alignas(kCacheLine) ProcRecord {
  enum State : uint32_t { kFree = 0, kClaiming = 1, kLive = 2, kDead = 3 };
  static constexpr uint32_t ClaimBy(uint32_t pid) { return pid << 2 | kClaiming; }
  static constexpr bool IsClaim(uint32_t state) { return (state & 3) == kClaiming; }
  static constexpr uint32_t ClaimantOf(uint32_t state) { return state >> 2; }
  static constexpr uint64_t Word(uint32_t state, uint32_t incarnation) {
    return uint64_t{incarnation} << 32 | state;
  }
  static constexpr uint32_t StateOf(uint64_t word) { return static_cast<uint32_t>(word); }
  static constexpr uint32_t IncarnationOf(uint64_t word) {
    return static_cast<uint32_t>(word >> 32);
  }
  // The same incarnation in another state.
  static constexpr uint64_t WithState(uint64_t word, uint32_t state) {
    return Word(state, IncarnationOf(word));
  }
  uint32_t state() const { return StateOf(xword.load(std::memory_order_acquire)); }

  std::atomic<uint64_t> xword;
  uint32_t pid;
  uint32_t reserved;
  uint64_t start_time;  // from /proc/PID/stat: tells a reused pid apart
  uint64_t attach_unix_ns;
  char name[32];
  // Attribution (client_stats.h) of what no cache record the process holds counts: per
  // class, what it did through the caches it gave back (threads that exited, flushes:
  // added when it gives one back) and the blocks its threads without a cache allocated
  // and freed; and its large blocks (page runs) allocated and freed, in blocks and bytes.
  // Zeroed by the claimer before kLive.
  BinBase outside[kNumClasses];
  std::atomic<uint64_t> xlarge_nmalloc, xlarge_nfree;
  std::atomic<uint64_t> xlarge_malloc_bytes, xlarge_free_bytes;
};

// One size class's bin in a thread cache: at most two chains of free blocks.
//   list:  0-terminated chain of `count` blocks; malloc pops, free pushes (owner only).
//   spare: 0 or a full batch (exactly Class(c).batch blocks, 0-terminated).
// The hot half (Bin, 32 bytes) is all that malloc and free touch; the cold half (BinCold)
// changes only when whole batches move. Counters are cumulative over the record's life:
//   refilled: blocks moved into `list` (from spare, ring or slabs)
//   drained:  blocks moved out of `list` (to spare, or back to the slabs on a flush)
// INVARIANTS: count == length(list) <= batch, and
//   count == refilled + nfree - nmalloc - drained,
// which defines nfree (so free() counts nothing but `count`). Blocks handed out through
// this cache and not yet freed = nmalloc - nfree = refilled - drained - count: exact from
// the chains alone, so recovery that recounts `count` from `list` restores it exactly
// whatever instruction the owner died at.
struct Bin {
  std::atomic<uint64_t> xlist;
  std::atomic<uint64_t> xnmalloc;
  std::atomic<uint64_t> xrequested;  // cumulative bytes asked for
  std::atomic<uint32_t> xcount;
  uint32_t reserved;
};
struct BinCold {
  std::atomic<uint64_t> xspare;
  std::atomic<uint64_t> xrefilled;
  std::atomic<uint64_t> xdrained;
};

// Thread-cache owner words (the owners section): who holds each ThreadCache record.
// kCacheNeverUsed means the record was never claimed and may be unbacked: nothing reads
// it (reading a tmpfs hole allocates a page, and could raise SIGBUS on a full tmpfs).
inline constexpr uint32_t kCacheNeverUsed = 0;
inline constexpr uint32_t kCacheFree = 1;
inline constexpr uint32_t CacheOwnerOf(uint32_t proc) { return proc + 2; }

// A thread cache: owned by one thread of one process (owner[] names the process).
// The counters of bins and cold are cumulative over the record's life, across owners;
// `base` holds them as of the current owner's claim, and xbase_attach_ns says whose claim
// that was (the owner's ProcRecord::attach_unix_ns, stored with release order after the
// bases). INVARIANT once the claim is complete: xbase_attach_ns == the owner's
// attach_unix_ns, and base[c] <= the counters of class c (they only grow). Until then the
// record still carries the previous claim's stamp: its owner has done nothing through it.
//   xflush_seen: the ReclaimState::xepoch this cache last honoured (owner only; taken at
//   claim). The owner checks it on its slow paths only, never on the fast path.
struct alignas(kCacheLine) ThreadCache {
  std::atomic<uint64_t> xtid;
  Transit transit;
  std::atomic<uint64_t> xflush_seen;
  alignas(kCacheLine) Bin bins[kNumClasses];
  BinCold cold[kNumClasses];
  std::atomic<uint64_t> xbase_attach_ns;
  BinBase base[kNumClasses];

  // Bytes of class `cls` held free in this cache (list and spare).
  uint64_t cached_bytes(uint32_t cls) const {
    uint64_t blocks = bins[cls].xcount.load(std::memory_order_relaxed);
    if (cold[cls].xspare.load(std::memory_order_relaxed)) blocks += Class(cls).batch;
    return blocks * Class(cls).size;
  }

  // Blocks of class `cls` freed into this cache (see Bin's invariant).
  uint64_t nfree(uint32_t cls) const {
    const Bin& b = bins[cls];
    const BinCold& k = cold[cls];
    return b.xcount.load(std::memory_order_relaxed) + b.xnmalloc.load(std::memory_order_relaxed) +
           k.xdrained.load(std::memory_order_relaxed) - k.xrefilled.load(std::memory_order_relaxed);
  }

  // Takes the bases for a new owner: by the claimer, right after it won the record.
  void TakeBase(uint64_t owner_attach_ns) {
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      base[c].xnmalloc.store(bins[c].xnmalloc.load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
      base[c].xnfree.store(nfree(c), std::memory_order_relaxed);
    }
    xbase_attach_ns.store(owner_attach_ns, std::memory_order_release);
  }
};

// Per size class, shared by all processes.
//   xenq/xdeq: ring positions (64-bit, never wrap: see transfer_ring.h).
//   mutex guards partial_heads, parked_head, the slab RunMeta of this class and its parked
//   page-map bits; on EOWNERDEAD the holder re-derives both lists from the PageMap
//   (slab_layer.cc).
// Fallback counters count the blocks of threads that could not get a cache.
struct alignas(kCacheLine) ClassCentral {
  alignas(kCacheLine) std::atomic<uint64_t> xenq;
  alignas(kCacheLine) std::atomic<uint64_t> xdeq;
  alignas(kCacheLine) RobustMutex mutex;
  // Page index + 1 of the first slab of each list (slab_lists.h): partial slabs bucketed
  // by fullness, then slabs whose free blocks are all parked.
  uint32_t partial_heads[kPartialBuckets];
  uint32_t parked_head;
  // Offset of the Transit record of the mutex holder's operation, or 0: the repair after
  // EOWNERDEAD finishes that operation from it (slab_layer.h).
  uint64_t holder_transit;
  std::atomic<uint64_t> xnslabs;
  std::atomic<uint64_t> xfree_in_slabs;  // blocks
  std::atomic<uint64_t> xnmalloc;        // fallback path
  std::atomic<uint64_t> xnfree;
  std::atomic<uint64_t> xrequested;
  std::atomic<uint64_t> xslabs_created;  // cumulative
  std::atomic<uint64_t> xslabs_released;
  Transit transit;  // intent record of uncached threads and purge, used under `mutex`
  std::atomic<uint64_t> xparked_pages;   // pages of this class's slabs punched out (parked)
  std::atomic<uint64_t> xparked_blocks;  // free blocks held back by them (in xfree_in_slabs)
};

// One ring slot (Vyukov's bounded MPMC queue): seq says whose turn the slot is.
struct RingCell {
  std::atomic<uint64_t> xseq;
  std::atomic<uint64_t> xbatch;
};

// Hash of the size-class table: a segment made by a build with another table is refused.
constexpr uint64_t ClassFingerprint() {
  uint64_t h = 1469598103934665603ull;
  for (const auto& c : kClasses) {
    h = (h ^ c.size) * 1099511628211ull;
    h = (h ^ c.slab_pages) * 1099511628211ull;
    h = (h ^ c.batch) * 1099511628211ull;
    h = (h ^ c.blocks) * 1099511628211ull;
  }
  return h;
}

// Computes each section's offset for a geometry. Sections are page-aligned.
Sections ComputeSections(const Geometry& g);

}  // namespace shmpool::shm
