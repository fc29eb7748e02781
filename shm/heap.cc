#include "shm/heap.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "shm/check.h"
#include "shm/page_heap.h"
#include "shm/proc_identity.h"
#include "shm/reclaim.h"
#include "shm/slab_layer.h"
#include "shm/transfer_ring.h"

namespace shmpool::shm {

namespace {

// The live Heaps of this process, so a thread that exits can return its caches to every
// Heap that is still attached (and skip those already detached). Each keeps the pid that
// attached it: a forked child inherits the map, the Heaps and the thread-local hooks, but
// not the attachments, which stay the parent's.
struct Registry {
  struct Entry {
    Heap* heap;
    pid_t pid;
  };
  absl::Mutex mu;
  absl::flat_hash_map<uint64_t, Entry> heaps ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: threads may exit after main
  return *r;
}

// xpos is cleared with every op it does not belong to: a ring position left in it would
// otherwise read as a block offset to the repair of a slab op (slab_layer.h).
void BeginTransit(Transit& t, Transit::Op op, uint32_t cls, uint64_t batch) {
  StoreRelaxed(t.xcls, cls);
  StoreRelaxed(t.xbatch, batch);
  StoreRelaxed(t.xpos, uint64_t{0});
  StoreRelaxed(t.xop, static_cast<uint32_t>(op));
}
// Turns a ring op that found the ring empty or full into the slab op that replaces it.
void SwitchToSlabs(Transit& t, Transit::Op op) {
  StoreRelaxed(t.xpos, uint64_t{0});
  StoreRelaxed(t.xop, static_cast<uint32_t>(op));
}
void EndTransit(Transit& t) {
  StoreRelaxed(t.xop, static_cast<uint32_t>(Transit::kNone));
  StoreRelaxed(t.xbatch, uint64_t{0});
}

void PoisonChain(const Segment& seg, uint64_t head, uint32_t size) {
  if constexpr (kPoisoning) {
    for (uint64_t b = head; b;) {
      const uint64_t next = seg.block(b).next;
      PoisonBlock(&seg.block(b), size);
      b = next;
    }
  }
}
void UnpoisonChain(const Segment& seg, uint64_t head, uint32_t size) {
  if constexpr (kPoisoning) {
    for (uint64_t b = head; b; b = seg.block(b).next) UnpoisonBlock(&seg.block(b), size);
  }
}

}  // namespace

// Runs at thread exit: returns the exiting thread's caches to every Heap still attached.
// After it has run (exit handlers and static destructors run after the thread-local
// destructors of the thread that calls exit()), the thread uses no cache: its slot is
// empty, ClaimCache refuses, and it allocates and frees through the central lists. The
// object itself is gone then: every use goes through LiveExitHook(), null from then on.
class ThreadExitHook {
 public:
  void Add(uint64_t heap_id, ThreadCache* cache) { owned_.push_back({heap_id, cache}); }
  // The cache this thread already holds in the Heap `heap_id`, if any.
  ThreadCache* Find(uint64_t heap_id) const {
    for (const Owned& o : owned_)
      if (o.heap_id == heap_id) return o.cache;
    return nullptr;
  }
  void Forget(uint64_t heap_id) {
    std::erase_if(owned_, [heap_id](const Owned& o) { return o.heap_id == heap_id; });
  }
  void ForgetAll() { owned_.clear(); }
  ~ThreadExitHook() {
    ran = true;
    if (owned_.empty()) return;  // no lock to take (nor to wait for, in a forked child)
    Registry& r = registry();
    absl::MutexLock lock(&r.mu);
    for (const Owned& o : owned_) {
      auto it = r.heaps.find(o.heap_id);
      if (it != r.heaps.end() && it->second.pid == getpid()) it->second.heap->ReleaseCache(o.cache);
    }
  }
  // Trivially destructible, so it stays readable after the hook is destroyed.
  static inline constinit thread_local bool ran = false;

 private:
  struct Owned {
    uint64_t heap_id;
    ThreadCache* cache;
  };
  std::vector<Owned> owned_;
};
namespace {
thread_local ThreadExitHook exit_hook;
// This thread's exit hook, or nullptr once it has run.
ThreadExitHook* LiveExitHook() { return ThreadExitHook::ran ? nullptr : &exit_hook; }
void (*attach_claim_hook)() = nullptr;
}  // namespace

void SetAttachClaimHookForTesting(void (*hook)()) { attach_claim_hook = hook; }

absl::StatusOr<std::unique_ptr<Heap>> Heap::Attach(std::shared_ptr<Segment> segment,
                                                   const AttachOptions& options) {
  const uint32_t n = segment->geometry().max_procs;
  // A record with a made-up start time would be judged dead while the process runs.
  const absl::StatusOr<ProcIdentity> self_or = ProcIdentity::Self();
  if (!self_or.ok()) return self_or.status();
  const ProcIdentity& self = *self_or;
  for (uint32_t i = 0; i < n; ++i) {
    ProcRecord& rec = segment->proc(i);
    uint64_t word = LoadRelaxed(rec.xword);
    if (ProcRecord::StateOf(word) != ProcRecord::kFree) continue;
    const uint64_t claim =
        ProcRecord::Word(ProcRecord::ClaimBy(self.pid), ProcRecord::IncarnationOf(word) + 1);
    if (!CasStrongAcqRel(rec.xword, word, claim)) continue;
    // The identity's stores stay after the claim for a reader that checks the word again
    // after reading them (recovery.h: ReadProcRecord).
    ReleaseFence();
    if (attach_claim_hook) attach_claim_hook();
    rec.pid = self.pid;
    rec.start_time = self.start_time;
    rec.attach_unix_ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    std::memset(rec.name, 0, sizeof(rec.name));
    std::strncpy(rec.name, options.name.c_str(), sizeof(rec.name) - 1);
    for (BinBase& o : rec.outside) {
      StoreRelaxed(o.xnmalloc, uint64_t{0});
      StoreRelaxed(o.xnfree, uint64_t{0});
    }
    for (std::atomic<uint64_t>* x :
         {&rec.xlarge_nmalloc, &rec.xlarge_nfree, &rec.xlarge_malloc_bytes, &rec.xlarge_free_bytes})
      StoreRelaxed(*x, uint64_t{0});
    const uint64_t live = ProcRecord::WithState(claim, ProcRecord::kLive);
    StoreRelease(rec.xword, live);
    return std::unique_ptr<Heap>(new Heap(std::move(segment), i, live, options));
  }
  return absl::ResourceExhaustedError(absl::StrFormat(
      "segment %s already has %d attached processes (its max_procs)", segment->path(), n));
}

Heap::Heap(std::shared_ptr<Segment> segment, uint32_t proc, uint64_t live_word,
           const AttachOptions& options)
    : segment_(std::move(segment)),
      base_(segment_->base()),
      id_([this] {
        Registry& r = registry();
        absl::MutexLock lock(&r.mu);
        const uint64_t id = r.next_id++;
        r.heaps[id] = {this, getpid()};
        return id;
      }()),
      proc_(proc),
      live_word_(live_word),
      data_off_(segment_->sections().data),
      key_(segment_->header().free_tag_key),
      pagemap_(&segment_->page_entry(0)),
      abort_on_invalid_free_(options.abort_on_invalid_free ||
                             std::getenv("SHMPOOL_ABORT_ON_INVALID_FREE") != nullptr),
      owner_pid_(getpid()) {
  // The child of a fork() must not use the parent's caches: its thread slot starts empty,
  // so its first allocation or free takes the slow path, which checks the pid; and its exit
  // hook forgets them (at exit it would take the registry's mutex, which another parent
  // thread may have held at the fork).
  static const int registered = pthread_atfork(nullptr, nullptr, [] {
    tls_ = {0, nullptr, nullptr, nullptr};
    if (ThreadExitHook* hook = LiveExitHook()) hook->ForgetAll();
  });
  (void)registered;
}

bool Heap::InOwnerProcess() const {
  if (getpid() == owner_pid_) return true;
  static std::atomic<bool> reported{false};
  if (!reported.exchange(true))
    std::fprintf(stderr,
                 "shmpool: a Heap attached by pid %d was used in pid %d after fork(); "
                 "attach anew in the child\n",
                 owner_pid_, static_cast<int>(getpid()));
  return false;
}

Heap::~Heap() {
  bool attached_here = false;
  {
    Registry& r = registry();
    absl::MutexLock lock(&r.mu);
    auto it = r.heaps.find(id_);
    attached_here = it != r.heaps.end() && it->second.pid == getpid();
    r.heaps.erase(id_);
  }
  if (ThreadExitHook* hook = LiveExitHook()) hook->Forget(id_);
  if (tls_.heap_id == id_) tls_ = {0, nullptr, nullptr, nullptr};
  if (!attached_here) return;  // a forked child's copy: the caches and record are the parent's
  const uint32_t n = segment_->geometry().max_thread_caches;
  ThreadCache* last = nullptr;  // given back after the last-out drain, which it names
  for (uint32_t i = 0; i < n; ++i) {
    if (LoadAcquire(segment_->cache_owner(i)) != CacheOwnerOf(proc_)) continue;
    if (last) ReleaseCache(last);
    last = &segment_->cache(i);
  }
  if (last) {
    ReturnCachedBlocks(*last);
    DrainIfLastOut(*segment_, proc_, last->transit);
    ReleaseCache(last);
  }
  // Only from this attachment's own live word: a record the reclaimer has taken (kDead) is
  // its to free.
  uint64_t live = live_word_;
  CasStrongAcqRel(segment_->proc(proc_).xword, live,
                  ProcRecord::WithState(live_word_, ProcRecord::kFree));
}

ThreadCache* Heap::ClaimCache() {
  ThreadExitHook* hook = LiveExitHook();
  if (hook == nullptr) return nullptr;  // nothing would give a cache back
  // A thread that alternates between Heaps keeps one cache in each.
  if (ThreadCache* mine = hook->Find(id_)) return mine;
  const uint32_t n = segment_->geometry().max_thread_caches;
  const uint32_t me = CacheOwnerOf(proc_);
  // Records used before first (already backed), then never-used ones.
  for (uint32_t from : {kCacheFree, kCacheNeverUsed}) {
    for (uint32_t i = 0; i < n; ++i) {
      std::atomic<uint32_t>& owner = segment_->cache_owner(i);
      uint32_t expected = from;
      if (LoadRelaxed(owner) != from) continue;
      // Back a never-used record before it leaves kCacheNeverUsed: stats and Validate read
      // any record that is not, so it must never be a hole (SIGBUS on a full tmpfs). Backing
      // a record another thread then wins is harmless.
      const uint64_t at = segment_->sections().caches + uint64_t{i} * sizeof(ThreadCache);
      if (from == kCacheNeverUsed && !segment_->Back(at, sizeof(ThreadCache)))
        return nullptr;  // file system full: go uncached
      if (!CasStrongAcqRel(owner, expected, me)) continue;
      ThreadCache* cache = &segment_->cache(i);
      // Attribution starts from here: what earlier owners did stays theirs (layout.h).
      cache->TakeBase(segment_->proc(proc_).attach_unix_ns);
      StoreRelaxed(cache->xflush_seen, LoadAcquire(segment_->header().reclaim.xepoch));
      StoreRelaxed(cache->xtid, static_cast<uint64_t>(syscall(SYS_gettid)));
      hook->Add(id_, cache);
      return cache;
    }
  }
  return nullptr;
}

void Heap::ReleaseCache(ThreadCache* cache) {
  const Segment& seg = *segment_;
  ReturnCachedBlocks(*cache);
  RetireFigures(*cache);
  const uint32_t index = static_cast<uint32_t>(cache - &seg.cache(0));
  StoreRelease(seg.cache_owner(index), kCacheFree);
  if (tls_.cache == cache) tls_ = {0, nullptr, nullptr, nullptr};
}

void Heap::ReturnCachedBlocks(ThreadCache& owned) {
  const Segment& seg = *segment_;
  ThreadCache* cache = &owned;
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    Bin& bin = cache->bins[c];
    BinCold& cold = cache->cold[c];
    if (const uint64_t list = LoadRelaxed(bin.xlist)) {
      UnpoisonChain(seg, list, Class(c).size);
      BeginTransit(cache->transit, Transit::kToSlabs, c, list);
      BumpOwned(cold.xdrained, uint64_t{bin.count()});
      StoreRelaxed(bin.xlist, uint64_t{0});
      bin.set_count(0);
      ReturnBlocks(seg, c, list, cache->transit);
      EndTransit(cache->transit);
    }
    if (const uint64_t spare = LoadRelaxed(cold.xspare)) {
      UnpoisonChain(seg, spare, Class(c).size);
      BeginTransit(cache->transit, Transit::kToSlabs, c, spare);
      StoreRelaxed(cold.xspare, uint64_t{0});
      ReturnBlocks(seg, c, spare, cache->transit);
      EndTransit(cache->transit);
    }
  }
}

void Heap::HonorFlushRequest(ThreadCache& cache) {
  const uint64_t epoch = LoadAcquire(segment_->header().reclaim.xepoch);
  if (epoch == LoadRelaxed(cache.xflush_seen)) return;
  StoreRelaxed(cache.xflush_seen, epoch);
  ReturnCachedBlocks(cache);
}

void Heap::ReclaimBeforeFailing() {
  ThreadCache* cache = tls_.heap_id == id_ ? tls_.cache : nullptr;
  if (cache) ReturnCachedBlocks(*cache);
  const uint64_t epoch = ReclaimCentral(*segment_, cache ? &cache->transit : nullptr);
  if (cache) StoreRelaxed(cache->xflush_seen, epoch);  // its own request is honoured
}

void Heap::RetireFigures(ThreadCache& cache) {
  ProcRecord& rec = segment_->proc(proc_);
  if (LoadAcquire(cache.xbase_attach_ns) != rec.attach_unix_ns) return;  // claim not complete
  // Readers stop counting the record first: a stats read in between misses its figures
  // for a moment rather than counting them twice.
  StoreRelease(cache.xbase_attach_ns, uint64_t{0});
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    const uint64_t nmalloc = cache.bins[c].nmalloc();
    const uint64_t nfree = cache.nfree(c);
    FetchAddRelaxed(rec.outside[c].xnmalloc, nmalloc - LoadRelaxed(cache.base[c].xnmalloc));
    FetchAddRelaxed(rec.outside[c].xnfree, nfree - LoadRelaxed(cache.base[c].xnfree));
  }
}

void Heap::FlushThreadCache() {
  if (!InOwnerProcess()) return;
  ThreadExitHook* hook = LiveExitHook();
  // The thread's slot names the Heap it used last; its caches in other Heaps are the hook's.
  ThreadCache* cache = tls_.heap_id == id_ ? tls_.cache : hook ? hook->Find(id_) : nullptr;
  if (cache == nullptr) return;
  ReleaseCache(cache);
  if (hook) hook->Forget(id_);
}

void* Heap::AllocateSlow(size_t size) {
  if (!InOwnerProcess()) return nullptr;
  const uint32_t cls = ClassOf(size);
  if (cls == 0) return AllocateLarge(size);
  if (tls_.heap_id != id_) {
    ThreadCache* cache = ClaimCache();
    if (cache == nullptr) return AllocateUncached(cls, size);
    tls_ = SlotFor(cache);
  }
  HonorFlushRequest(*tls_.cache);
  // Back from another Heap (the thread's slot named it): the bin may still list blocks.
  if (LoadRelaxed(tls_.cache->bins[cls].xlist) != 0) return Allocate(size);
  if (!RefillBin(*tls_.cache, cls)) {
    ReclaimBeforeFailing();
    if (!RefillBin(*tls_.cache, cls)) {
      FetchAddRelaxed(segment_->header().counters.xfailed_allocs, uint64_t{1});
      return nullptr;
    }
  }
  return Allocate(size);
}

bool Heap::RefillBin(ThreadCache& cache, uint32_t cls) {
  const Segment& seg = *segment_;
  const SizeClassInfo& info = Class(cls);
  Bin& bin = cache.bins[cls];
  BinCold& cold = cache.cold[cls];
  if (const uint64_t spare = LoadRelaxed(cold.xspare)) {
    StoreRelaxed(bin.xlist, spare);  // crash here: list == spare, recovery keeps one
    StoreRelaxed(cold.xspare, uint64_t{0});
    bin.set_count(info.batch);
    BumpOwned(cold.xrefilled, uint64_t{info.batch});
    return true;
  }
  BeginTransit(cache.transit, Transit::kFromRing, cls, 0);
  uint64_t chain = RingPop(seg, cls, cache.transit);
  uint32_t n = info.batch;
  if (chain == 0) {
    SwitchToSlabs(cache.transit, Transit::kFromSlabs);
    n = TakeBlocks(seg, cls, info.batch, cache.transit, &chain);
  }
  if (n == 0) {
    EndTransit(cache.transit);
    return false;
  }
  PoisonChain(seg, chain, info.size);
  StoreRelaxed(bin.xlist, chain);
  bin.set_count(n);
  BumpOwned(cold.xrefilled, uint64_t{n});
  EndTransit(cache.transit);
  return true;
}

void Heap::FreeFull(void* p) {
  const uint64_t page = (static_cast<uint64_t>(static_cast<char*>(p) - base_) - data_off_) >>
                        kPageShift;  // the fast path found a live slab page there
  FreeOverflow(*tls_.cache, PageEntry::ClassOf(LoadRelaxed(pagemap_[page])));
  Free(p);  // checked again: the bin has room now
}

void Heap::FreeOverflow(ThreadCache& cache, uint32_t cls) {
  HonorFlushRequest(cache);  // may empty the list: then there is nothing to move
  if (cache.bins[cls].count() == 0) return;
  const Segment& seg = *segment_;
  Bin& bin = cache.bins[cls];
  BinCold& cold = cache.cold[cls];
  const uint64_t list = LoadRelaxed(bin.xlist);
  const uint64_t spare = LoadRelaxed(cold.xspare);
  const uint32_t count = bin.count();
  if (spare == 0) {                   // keep the full list as the spare batch
    StoreRelaxed(cold.xspare, list);  // crash here: list == spare, recovery keeps one
    StoreRelaxed(bin.xlist, uint64_t{0});
    bin.set_count(0);
    BumpOwned(cold.xdrained, uint64_t{count});
    return;
  }
  BeginTransit(cache.transit, Transit::kToRing, cls, spare);
  StoreRelaxed(cold.xspare, list);
  StoreRelaxed(bin.xlist, uint64_t{0});
  bin.set_count(0);
  BumpOwned(cold.xdrained, uint64_t{count});
  UnpoisonChain(seg, spare, Class(cls).size);
  if (!RingPush(seg, cls, spare, cache.transit)) {
    SwitchToSlabs(cache.transit, Transit::kToSlabs);
    ReturnBlocks(seg, cls, spare, cache.transit);
  }
  EndTransit(cache.transit);
}

void* Heap::AllocateUncached(uint32_t cls, size_t size) {
  // A thread without a cache (the table is full) takes single blocks from the slabs, under
  // the class's shared Transit. A crash after the mutex is released and before the block
  // is returned loses that one block until the arena is reset (bounded, rare).
  uint64_t b = 0;
  if (TakeBlocks(*segment_, cls, 1, segment_->central(cls).transit, &b) == 0) {
    ReclaimBeforeFailing();
    if (TakeBlocks(*segment_, cls, 1, segment_->central(cls).transit, &b) == 0) {
      FetchAddRelaxed(segment_->header().counters.xfailed_allocs, uint64_t{1});
      return nullptr;
    }
  }
  ClassCentral& c = segment_->central(cls);
  FetchAddRelaxed(c.xnmalloc, uint64_t{1});
  FetchAddRelaxed(c.xrequested, uint64_t{size});
  FetchAddRelaxed(segment_->proc(proc_).outside[cls].xnmalloc, uint64_t{1});
  segment_->block(b).tag = 0;
  return base_ + b;
}

void* Heap::AllocateLarge(size_t size) {
  const uint64_t pages = (uint64_t{size} >> kPageShift) + ((size & (kPageSize - 1)) != 0);
  uint32_t start = kNoRun;
  if (pages <= segment_->data_pages()) {
    start = AllocRun(*segment_, static_cast<uint32_t>(pages), kPageLarge, 0);
    if (start == kNoRun) {
      ReclaimBeforeFailing();
      start = AllocRun(*segment_, static_cast<uint32_t>(pages), kPageLarge, 0);
    }
  }
  ArenaCounters& k = segment_->header().counters;
  if (start == kNoRun) {
    FetchAddRelaxed(k.xfailed_allocs, uint64_t{1});
    return nullptr;
  }
  segment_->run(start).free_head = size;  // requested bytes, for stats
  FetchAddRelaxed(k.xlarge_nmalloc, uint64_t{1});
  FetchAddRelaxed(k.xlarge_requested, uint64_t{size});
  FetchAddRelaxed(k.xlarge_handed_out, pages << kPageShift);
  ProcRecord& me = segment_->proc(proc_);
  FetchAddRelaxed(me.xlarge_nmalloc, uint64_t{1});
  FetchAddRelaxed(me.xlarge_malloc_bytes, pages << kPageShift);
  return base_ + segment_->page_offset(start);
}

void Heap::ReportBadFree(const void* p, const char* what) const {
  std::fprintf(stderr, "shmpool: refused free(%p): %s (segment %s, pid %d)\n", p, what,
               segment_->path().c_str(), static_cast<int>(getpid()));
  if (abort_on_invalid_free_) std::abort();
}

void Heap::FreeSlow(void* p) {
  if (outside_ != nullptr && p != nullptr &&
      static_cast<uint64_t>(static_cast<char*>(p) - base_) >= segment_->sections().total)
    return outside_(outside_context_, p);
  FreeHere(p);
}

void Heap::FreeHere(void* p) {
  if (p == nullptr || !InOwnerProcess()) return;
  const Segment& seg = *segment_;
  ArenaCounters& k = seg.header().counters;
  const uint64_t off = static_cast<uint64_t>(static_cast<char*>(p) - base_);
  const uint64_t rel = off - data_off_;
  const uint64_t page = rel >> kPageShift;
  if (off < data_off_ || page >= frontier_pages()) {
    FetchAddRelaxed(k.xinvalid_frees, uint64_t{1});
    return ReportBadFree(p, "outside the arena");
  }
  const uint64_t e = LoadRelaxed(pagemap_[page]);
  const PageKind kind = PageEntry::KindOf(e);
  const uint32_t start = PageEntry::StartOf(e);
  if (kind == kPageLarge) {
    if (rel != uint64_t{start} << kPageShift) {
      FetchAddRelaxed(k.xinvalid_frees, uint64_t{1});
      return ReportBadFree(p, "inside a large block");
    }
    const uint64_t bytes = uint64_t{seg.run(start).pages} << kPageShift;  // before it is free
    if (!FreeRun(seg, start, kPageLarge)) {
      FetchAddRelaxed(k.xdouble_frees, uint64_t{1});
      return ReportBadFree(p, "double free of a large block");
    }
    FetchAddRelaxed(k.xlarge_nfree, uint64_t{1});
    ProcRecord& me = seg.proc(proc_);
    FetchAddRelaxed(me.xlarge_nfree, uint64_t{1});
    FetchAddRelaxed(me.xlarge_free_bytes, bytes);
    return;
  }
  if (kind == kPagePool) {
    FetchAddRelaxed(k.xinvalid_frees, uint64_t{1});
    return ReportBadFree(p, "an object of a pool (put it back into its pool instead)");
  }
  if (kind != kPageSlab) {
    FetchAddRelaxed(k.xdouble_frees, uint64_t{1});
    return ReportBadFree(p, "memory that is not allocated (a double free?)");
  }
  if (PageEntry::Parked(e)) {  // every block touching a parked page is free
    FetchAddRelaxed(k.xdouble_frees, uint64_t{1});
    return ReportBadFree(p, "a block on a page purge gave back (a double free)");
  }
  const uint32_t cls = PageEntry::ClassOf(e);
  const SizeClassInfo& info = Class(cls);
  const uint64_t in_slab = rel - (uint64_t{start} << kPageShift);
  if (in_slab % info.size != 0 || in_slab / info.size >= info.blocks) {
    FetchAddRelaxed(k.xinvalid_frees, uint64_t{1});
    return ReportBadFree(p, "not the start of a block");
  }
  FreeBlock* blk = static_cast<FreeBlock*>(p);
  if (IsPoisoned(blk) || blk->tag == seg.free_tag(off)) {
    FetchAddRelaxed(k.xdouble_frees, uint64_t{1});
    return ReportBadFree(p, "double free");
  }
  // As on the fast path: a page parked after the entry was read reads as zero, not the tag.
  if (!SameEntry(pagemap_[page], e)) return FreeHere(p);
  if (tls_.heap_id != id_) {
    if (ThreadCache* cache = ClaimCache()) {
      tls_ = SlotFor(cache);
      return Free(p);
    }
    // No cache to be had: straight back to the slab.
    blk->next = 0;
    blk->tag = seg.free_tag(off);
    ReturnBlocks(seg, cls, off, seg.central(cls).transit);
    FetchAddRelaxed(seg.central(cls).xnfree, uint64_t{1});
    FetchAddRelaxed(seg.proc(proc_).outside[cls].xnfree, uint64_t{1});
    return;
  }
  // A valid block and a cache: the fast path saw the page's entry change under it (it
  // has not changed since the read above), so it takes the block now.
  return Free(p);
}

size_t Heap::UsableSize(const void* p) const {
  const uint64_t off = static_cast<uint64_t>(static_cast<const char*>(p) - base_);
  const uint64_t rel = off - data_off_;
  if (p == nullptr || off < data_off_ || (rel >> kPageShift) >= frontier_pages()) return 0;
  const uint64_t e = LoadRelaxed(pagemap_[rel >> kPageShift]);
  const uint32_t start = PageEntry::StartOf(e);
  if (PageEntry::KindOf(e) == kPageLarge)
    return rel == uint64_t{start} << kPageShift ? size_t{segment_->run(start).pages} << kPageShift
                                                : 0;
  if (PageEntry::KindOf(e) != kPageSlab || PageEntry::Parked(e)) return 0;
  const SizeClassInfo& info = Class(PageEntry::ClassOf(e));
  const uint64_t in_slab = rel - (uint64_t{start} << kPageShift);
  return in_slab % info.size == 0 ? info.size : 0;
}

}  // namespace shmpool::shm
