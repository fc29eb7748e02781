// Heap: one process's attachment to a segment, and the allocator's entry points.
//
// Attach claims a ProcRecord; each thread that allocates claims a ThreadCache record in
// the segment (so a dead process's cached blocks can be found and reclaimed) and keeps a
// pointer to it in a thread-local slot. Allocate and Free are inline: on the fast path
// they touch only the thread's own cache record and the block, with plain loads and stores
// (no RPC, no syscall, no lock, no atomic read-modify-write). Everything else (a bin that
// is empty or full, large sizes, invalid frees, threads without a cache) is in heap.cc.
//
// Any thread of any attached process may free any block. A thread that exits returns its
// cache; destroying the Heap (detach) returns every cache of this process, so other
// threads must have stopped using it by then. A Heap belongs to the process that attached:
// in a child after fork() it refuses to allocate or free (attach anew in the child), and
// destroying it there leaves the parent's caches and process record alone.
// Not copyable or movable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "shm/atomics.h"
#include "shm/sanitizer.h"
#include "shm/segment.h"

namespace shmpool::shm {

struct AttachOptions {
  std::string name;                    // shown in stats (at most 31 bytes kept)
  bool abort_on_invalid_free = false;  // else: counted, reported on stderr, ignored
};

class Heap {
 public:
  static absl::StatusOr<std::unique_ptr<Heap>> Attach(std::shared_ptr<Segment> segment,
                                                      const AttachOptions& options = {});
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // nullptr when the arena is exhausted or the file system is full; never aborts.
  void* Allocate(size_t size);
  // Allocate in two halves, for a caller that knows the Heap's id without loading the Heap
  // (Client::Allocate): AllocateOr is the inline fast path and reads only this thread's
  // slot and cache; when it cannot serve `size`, it returns miss(), where miss must return
  // heap->AllocateSlow(size) of the Heap whose id is `heap_id`.
  template <class Miss>
  static void* AllocateOr(uint64_t heap_id, size_t size, Miss miss);
  __attribute__((cold, noinline)) void* AllocateSlow(size_t size);
  uint64_t id() const { return id_; }
  // Frees a block of this segment. nullptr does nothing; an invalid or double free is
  // refused without touching the segment, counted and reported.
  void Free(void* p);
  // Free's halves: TryFree is the inline fast path (a valid block and a cache of this
  // Heap: true, the block is freed); when it returns false, FreeSlow(p) does the rest.
  bool TryFree(void* p);
  __attribute__((cold, noinline)) void FreeSlow(void* p);
  // Where FreeSlow sends a pointer outside this segment's mapping instead of refusing it
  // (Client: the blocks of its other generations). Set before the Heap is shared with
  // other threads; nullptr (the default): refused like any invalid free.
  using OutsideHandler = void (*)(void* context, void* p);
  void SetOutsideHandler(OutsideHandler handler, void* context) {
    outside_ = handler;
    outside_context_ = context;
  }
  // FreeSlow without the handler: what a handler calls for a pointer it does not own.
  void FreeHere(void* p);
  // The block size behind a live block (class size, or whole pages), 0 if not a block.
  size_t UsableSize(const void* p) const;

  uint64_t RefOf(const void* p) const {
    return p ? static_cast<uint64_t>(static_cast<const char*>(p) - base_) : 0;
  }
  void* PtrOf(uint64_t ref) const {
    return ref && ref < segment_->sections().total ? base_ + ref : nullptr;
  }

  // Returns this thread's cached blocks to the slabs (the cache record stays claimed).
  void FlushThreadCache();

  Segment& segment() const { return *segment_; }
  uint32_t proc_index() const { return proc_; }

 private:
  // This thread's cache in the Heap it last used: heap_id names that Heap (ids start at 1
  // and are never reused, so a slot left by a destroyed Heap, or the empty slot, matches
  // no other); cache is its record, bins == cache->bins and base == that Heap's base_ (so
  // malloc's fast path needs only the id of the Heap). {0, nullptr, nullptr, nullptr}: no
  // cache.
  struct TlsSlot {
    uint64_t heap_id;
    ThreadCache* cache;
    Bin* bins;
    char* base;
  };
  TlsSlot SlotFor(ThreadCache* cache) const { return {id_, cache, cache->bins, base_}; }
  // Constant-initialised, so reading it needs no TLS init guard on the fast path. In code
  // for an executable (position-dependent or PIE) the slot is at a fixed offset from %fs
  // (local-exec: one instruction per field); in a shared library, one more load finds it.
#if defined(__PIE__) || !defined(__PIC__)
  static inline constinit thread_local TlsSlot tls_
      __attribute__((tls_model("local-exec"))) = {0, nullptr, nullptr, nullptr};
#else
  static inline constinit thread_local TlsSlot tls_
      __attribute__((tls_model("initial-exec"))) = {0, nullptr, nullptr, nullptr};
#endif

  Heap(std::shared_ptr<Segment> segment, uint32_t proc, uint64_t live_word,
       const AttachOptions& options);
  ThreadCache* ClaimCache();
  void ReleaseCache(ThreadCache* cache);
  // Returns every block `cache` holds (lists and spares) to the slabs; the record stays.
  void ReturnCachedBlocks(ThreadCache& cache);
  // Slow paths only: flushes the cache when a reclaim has asked every cache to
  // (ReclaimState::xepoch differs from the cache's xflush_seen: reclaim.h).
  void HonorFlushRequest(ThreadCache& cache);
  // Before an allocation fails: flushes this thread's cache, drains the arena's rings and
  // empty slabs (ReclaimCentral) and asks every other cache to flush; the caller retries.
  void ReclaimBeforeFailing();
  // Adds what this process did through `cache` to its ProcRecord::outside, before the
  // record is given back (attribution outlives the thread: client_stats.h).
  void RetireFigures(ThreadCache& cache);
  // The slow paths (AllocateSlow, FreeSlow, FreeFull) are out of line and cold, and the
  // fast paths reach them by tail calls, so the fast paths need no callee-saved register.
  void* AllocateLarge(size_t size);
  void* AllocateUncached(uint32_t cls, size_t size);
  bool RefillBin(ThreadCache& cache, uint32_t cls);
  // False (and a report) in a child process that inherited this Heap through fork().
  bool InOwnerProcess() const;
  // p's bin is full: moves its list out (FreeOverflow), then frees p.
  __attribute__((cold, noinline)) void FreeFull(void* p);
  // Moves a full list out of the bin (to the spare, the ring or the slabs).
  void FreeOverflow(ThreadCache& cache, uint32_t cls);
  void ReportBadFree(const void* p, const char* what) const;
  // Whether a page's `entry` still holds `e`, read after every earlier load.
  static bool SameEntry(const std::atomic<uint64_t>& entry, uint64_t e) {
    AcquireFence();
    return LoadRelaxed(entry) == e;
  }
  // Pages below the page heap's frontier: the only ones whose page-map entries are backed.
  uint64_t frontier_pages() const {
    return LoadRelaxed(reinterpret_cast<const SegmentHeader*>(base_)->heap.xfrontier_pages);
  }
  friend class ThreadExitHook;

  std::shared_ptr<Segment> segment_;
  char* const base_;
  const uint64_t id_;  // unique in this process, never reused
  const uint32_t proc_;
  const uint64_t live_word_;  // the process record's word while this attachment is live
  const uint64_t data_off_;
  const uint64_t key_;
  const std::atomic<uint64_t>* const pagemap_;
  const bool abort_on_invalid_free_;
  OutsideHandler outside_ = nullptr;
  void* outside_context_ = nullptr;
  const int owner_pid_;  // the process that attached
};

// Testing seam: `hook` (nullptr: none) runs in Heap::Attach just after the process record
// is claimed, before it is live, so a test can kill the attaching process there.
void SetAttachClaimHookForTesting(void (*hook)());

// Fast path: reads of this thread's slot, one of the bin, the pop, two owner-only adds
// (count and nmalloc in one word, requested bytes) and the tag cleared. A large size is
// class 0, whose bin is always empty (layout.h), so it takes the slow path through the
// same empty-list test.
template <class Miss>
__attribute__((always_inline)) inline void* Heap::AllocateOr(uint64_t heap_id, size_t size,
                                                             Miss miss) {
  if (__builtin_expect(tls_.heap_id == heap_id, 1)) {
    const uint32_t at = ClassOffsetOf(size);
    Bin& bin = *reinterpret_cast<Bin*>(reinterpret_cast<char*>(tls_.bins) + at);
    const uint64_t b = LoadRelaxed(bin.xlist);
    if (__builtin_expect(b != 0, 1)) {
      FreeBlock* blk = reinterpret_cast<FreeBlock*>(tls_.base + b);
      UnpoisonBlock(blk, Class(at / kClassStride).size);
      // Commit: the block has left the cache. Relaxed: it publishes no earlier store, and
      // the tag cleared after it may land first (recovery re-tags every listed block).
      StoreRelaxed(bin.xlist, blk->next);
      BumpOwned(bin.xops, Bin::kMallocStep);
      BumpOwned(bin.xrequested, uint64_t{size});
      blk->tag = 0;
      return blk;
    }
  }
  return miss();
}

__attribute__((always_inline)) inline void* Heap::Allocate(size_t size) {
  return AllocateOr(id_, size, [this, size] { return AllocateSlow(size); });
}

__attribute__((always_inline)) inline bool Heap::TryFree(void* p) {
  const uint64_t off = static_cast<uint64_t>(static_cast<char*>(p) - base_);
  const uint64_t rel = off - data_off_;
  const uint64_t page = rel >> kPageShift;  // huge for pointers below the data
  const uint64_t tag = key_ ^ off;          // read before the acquire below: no reload
  if (__builtin_expect(tls_.heap_id == id_ && page < frontier_pages(), 1)) {
    const std::atomic<uint64_t>& entry = pagemap_[page];
    // Acquire: pairs with the refill that made the page a slab again (its tags first).
    const uint64_t e = LoadAcquire(entry);
    const uint32_t cls = PageEntry::ClassOf(e);
    const SizeClassInfo& info = Class(cls);
    const uint64_t in_slab = rel - PageEntry::LiveSlabStartBytes(e);
    FreeBlock* blk = static_cast<FreeBlock*>(p);
    // Not a slab (cls 0) fails here too. The entry is read again after the tag: a page
    // that purge parked and punched in between reads as zero, which is not the tag, so the
    // block of a double free would pass; its entry has changed by then (purge stores it
    // before it punches), and FreeSlow decides from the entry.
    if (__builtin_expect(IsBlockStart(in_slab, info) && !IsPoisoned(blk) && blk->tag != tag &&
                             SameEntry(entry, e),
                         1)) {
      Bin& bin = tls_.bins[cls];
      // A full list moves out whole before the push (FreeFull), so a list refilled to a
      // full batch can absorb alloc/free churn without coming back here.
      if (__builtin_expect(bin.count() >= info.batch, 0)) {
        FreeFull(p);
        return true;
      }
      blk->next = LoadRelaxed(bin.xlist);
      // Commit: the block is in the cache. Release: its link is stored before it (a plain
      // mov on x86).
      StoreRelease(bin.xlist, off);
      blk->tag = tag;
      BumpOwned(bin.xops, uint64_t{1});  // count + 1 (count < batch: no carry)
      PoisonBlock(blk, info.size);
      return true;
    }
  }
  return false;
}

__attribute__((always_inline)) inline void Heap::Free(void* p) {
  if (__builtin_expect(!TryFree(p), 0)) FreeSlow(p);
}

}  // namespace shmpool::shm
