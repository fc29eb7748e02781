// Object pools: fixed-size objects (packet buffers, like DPDK mbufs) preallocated in one
// run of the page heap (page kind kPagePool; the page-map entries' aux bits name the pool's
// slot in the segment header's pool directory), handed out and taken back lock-free.
//
// What a pool run holds, from its first page:
//   PoolHeader            geometry of the pool, the central free stack's head, counters
//   PoolCache[ncaches]    per-thread caches: a stack of up to kPoolCacheSlots object indices
//   next[count]           per object: the link of the central free stack (index + 1, 0 ends
//                         it) while the object is there, kPoolCached in a cache, kPoolInUse
//                         when handed out
//   objects[count]        `stride` bytes each, the first at objects_off (aligned to `align`)
//
// Get/Put fast path: the calling thread's PoolCache, plain loads and stores of records
// only that thread writes (the xcount store commits), no atomic read-modify-write. An
// empty cache refills from the central stack, a full one gives half back: one CAS per
// object. Any thread of any process that opened the pool may put any object of it.
//
// Central stack: a Treiber stack of object indices; the head is (tag << 24 | index + 1) in
// one 64-bit word (static_assert: lock-free), and every successful CAS increments the
// 40-bit tag. ABA needs a thread to stall between its load and its CAS while exactly a
// multiple of 2^40 pushes and pops happen (3 hours at 10 ns each): not in practice.
//
// INVARIANTS (at rest): every object is in exactly one of: the central stack (next = link),
// one cache's slots[0, count) (next = kPoolCached), handed out (next = kPoolInUse).
//   xfree == length of the central stack; count == xfree + sum(cache counts) + in use.
//
// Crash argument (a process killed at any instruction):
//   - cache pop (get):  count-- commits; the object then belongs to the dead process,
//     like a malloc'ed block: it stays in use (the application may have handed it on).
//   - cache push (put): next = kPoolCached, slots[count] = i, count++ commits (a release
//     store, as in a refill: the slot is stored before the count covers it). Killed before
//     the commit: that one object is marked cached but held by no cache: lost until the pool
//     is deleted (bounded: one object per thread killed inside Put).
//   - refill / give-back: one object at a time; for a give-back count-- comes before the
//     push, for a refill the CAS before count++: a kill in between loses that one object,
//     never hands one out twice (we chose loss over duplication).
//   - a dead process's caches are returned whole by ReclaimPoolCaches (recovery.cc): their
//     slots are exact (the count store commits), so every cached object goes back once. It
//     gives back like any give-back, so a reclaimer killed inside loses that one object
//     (the one pool window not yet restartable; recovery.h).
// Create and delete are control-plane operations: one at a time (the daemon serialises
// them). Delete is refused while any process has the pool open (it owns a cache) or any
// object is out; Open and Delete order themselves with sequentially consistent accesses.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shm/segment.h"

namespace shmpool::shm {

inline constexpr uint32_t kPoolCacheSlots = 32;
inline constexpr uint32_t kPoolMaxCount = (1u << 24) - 1;
inline constexpr uint32_t kPoolInUse = ~uint32_t{0};
inline constexpr uint32_t kPoolCached = ~uint32_t{0} - 1;

struct PoolSpec {
  std::string name;  // 1..23 bytes
  uint64_t object_size = 0;
  uint32_t count = 0;
  uint32_t align = 16;          // a power of two, <= 4096
  uint32_t headroom = 0;        // bytes reserved at each object's start (packet headroom)
  bool cache_line_pad = false;  // align and pad every object to the 64-byte cache line
  uint32_t caches = 64;         // per-thread cache records (threads beyond use the central stack)
};

// At the pool run's first page. Geometry fields are written once at creation.
struct PoolHeader {
  uint64_t object_size, stride, headroom, align, count, ncaches;
  uint64_t caches_off, next_off, objects_off;          // from the run's start
  uint64_t cache_line_pad;                             // 1: created with PoolSpec::cache_line_pad
  alignas(64) std::atomic<uint64_t> xhead;             // central stack: tag << 24 | (index + 1)
  alignas(64) std::atomic<uint64_t> xfree;             // objects in the central stack
  std::atomic<uint64_t> xlow_free;                     // lowest xfree ever seen after a pop
  std::atomic<uint64_t> xgets, xhits, xputs;           // totals of released caches
  std::atomic<uint64_t> xcentral_gets, xcentral_puts;  // threads without a cache
  std::atomic<uint64_t> xbad_puts;                     // invalid or double puts refused
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the stack head is one word");

// A thread's cache. xowner: 0 free, else the owning process's index + 1.
// INVARIANT: xcount <= kPoolCacheSlots; slots[0, xcount) are distinct cached objects.
struct alignas(64) PoolCache {
  std::atomic<uint32_t> xowner;
  std::atomic<uint32_t> xcount;
  std::atomic<uint64_t> xtid;
  std::atomic<uint64_t> xgets, xhits, xputs;  // owner-only plain stores (BumpOwned)
  uint32_t slots[kPoolCacheSlots];
};

struct PoolProcUsage {
  uint32_t proc;  // process record index
  int64_t held;   // gets - puts through this process's caches
};

struct PoolStats {
  std::string name;
  uint32_t slot = 0;
  uint64_t object_size = 0, stride = 0, headroom = 0, align = 0, count = 0;
  bool cache_line_pad = false;
  uint64_t free_central = 0, cached = 0, in_use = 0, low_free = 0;
  uint64_t gets = 0, hits = 0, puts = 0, bad_puts = 0, bytes = 0;
  std::vector<PoolProcUsage> procs;
};

// Creates a pool: its run comes from the page heap (so the quota applies). Returns its slot.
absl::StatusOr<uint32_t> CreatePool(const Segment& seg, const PoolSpec& spec);
// Deletes a pool: FAILED_PRECONDITION while it is open or objects are out.
absl::Status DeletePool(const Segment& seg, absl::string_view name);
std::vector<PoolStats> ListPools(const Segment& seg);
// Bytes of every live pool's run (ListPools' bytes, summed without the per-pool walk).
uint64_t PoolBytes(const Segment& seg);
// Returns the caches that process record `proc` (dead) held in every pool. Returns objects.
uint64_t ReclaimPoolCaches(const Segment& seg, uint32_t proc);

// One process's handle on a pool. Not copyable or movable; destroying it returns every
// cache this process holds in the pool. In the child of a fork() the handle still works,
// without caches (the caches it holds are the parent's): Get and Put go to the central
// stack, and destroying it there leaves the parent's caches alone.
// Thread exit: a thread that used a pool gives its cache's objects back to the central
// stack when it exits (a thread_local hook), and its cache record goes to this handle's
// spares, which the next thread to need a cache takes first: threads that come and go
// strand no objects and use up no records. Records stay owned by the process until the
// handle is destroyed (DeletePool's "open" test counts them).
// INVARIANT (under mu_): every record this process owns in the pool is in exactly one of
// by_tid_ (a thread's) and spares_ (empty, no thread's).
class Pool {
 public:
  static absl::StatusOr<std::unique_ptr<Pool>> Open(std::shared_ptr<Segment> seg, uint32_t proc,
                                                    absl::string_view name);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An object (object_size + headroom bytes, headroom first), or nullptr when none is free.
  void* Get();
  // False (counted) when `obj` is not an object of this pool that is handed out.
  bool Put(void* obj);

  uint64_t object_size() const { return hdr_->object_size; }
  uint64_t headroom() const { return hdr_->headroom; }
  uint64_t count() const { return hdr_->count; }
  uint64_t stride() const { return hdr_->stride; }

  // The exiting thread `tid`'s cache, if it has one here: its objects go back to the
  // central stack and the record to the spares. Called by the thread-exit hook.
  void ReleaseThreadCache(uint64_t tid);

 private:
  struct TlsEntry {
    uint64_t pool_id;
    PoolCache* cache;
  };
  static constexpr int kTlsEntries = 4;
  static inline constinit thread_local TlsEntry tls_[kTlsEntries] = {};

  Pool(std::shared_ptr<Segment> seg, uint32_t proc, uint32_t slot);
  // pthread_atfork child handler: the forking thread's cache pointers are the parent's.
  static void ForgetThreadCachesAfterFork();
  PoolCache* ThreadCache();
  PoolCache* ClaimForThread(uint64_t tid);
  void* GetSlow(PoolCache* c);
  void Release(PoolCache* c);

  std::shared_ptr<Segment> seg_;
  const uint32_t proc_;
  const uint32_t slot_;
  const uint64_t id_;
  char* const run_;
  PoolHeader* const hdr_;
  std::atomic<uint32_t>* const next_;
  char* const objects_;
  const pid_t owner_pid_;  // the process that opened it
  // std::mutex rather than absl::Mutex: TSan sees its synchronisation (CI runs this under
  // TSan, and Debian's abseil is not built with TSan annotations).
  std::mutex mu_;
  absl::flat_hash_map<uint64_t, PoolCache*> by_tid_;  // guarded by mu_
  std::vector<PoolCache*> spares_;                    // guarded by mu_
};

}  // namespace shmpool::shm
