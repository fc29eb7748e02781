#include "shm/pool.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/page_heap.h"
#include "shm/reclaim.h"

namespace shmpool::shm {
namespace {

constexpr uint64_t kIndexBits = 24;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
uint64_t Tid() { return static_cast<uint64_t>(syscall(SYS_gettid)); }

char* RunOf(const Segment& seg, uint32_t slot) {
  return seg.base() + seg.page_offset(seg.header().pools[slot].run_start);
}
PoolCache* CachesOf(char* run, const PoolHeader& h) {
  return reinterpret_cast<PoolCache*>(run + h.caches_off);
}
std::atomic<uint32_t>* NextOf(char* run, const PoolHeader& h) {
  return reinterpret_cast<std::atomic<uint32_t>*>(run + h.next_off);
}

// A live pool's run as the daemon reads it, with everything a tenant can rewrite checked
// first: the slot's run is a pool run of that slot inside the data pages, and the caches
// and links that the header's offsets and counts describe lie inside the run. `count` and
// `ncaches` are the checked values, read once.
struct CheckedPool {
  char* run;
  PoolHeader* h;
  uint64_t count, ncaches;
  PoolCache* caches;
  std::atomic<uint32_t>* next;
};

CheckedPool CheckPool(const Segment& seg, uint32_t slot) {
  const uint32_t start = seg.header().pools[slot].run_start;
  const uint64_t e = LoadRelaxed(seg.page_entry(start));
  SHMPOOL_CHECK(PageEntry::KindOf(e) == kPagePool && PageEntry::StartOf(e) == start &&
                PageEntry::PoolSlotOf(e) == slot);
  const uint64_t pages = seg.run(start).pages;
  SHMPOOL_CHECK(pages > 0 && start + pages <= seg.data_pages());
  const uint64_t bytes = pages << kPageShift;
  CheckedPool p;
  p.run = seg.base() + seg.page_offset(start);
  p.h = reinterpret_cast<PoolHeader*>(p.run);
  p.count = p.h->count;
  p.ncaches = p.h->ncaches;
  const uint64_t caches_off = p.h->caches_off, next_off = p.h->next_off;
  SHMPOOL_CHECK(p.count <= kPoolMaxCount && p.ncaches <= bytes / sizeof(PoolCache));
  SHMPOOL_CHECK(caches_off % alignof(PoolCache) == 0 && caches_off <= bytes &&
                p.ncaches * sizeof(PoolCache) <= bytes - caches_off);
  SHMPOOL_CHECK(next_off % sizeof(uint32_t) == 0 && next_off <= bytes &&
                p.count * sizeof(uint32_t) <= bytes - next_off);
  p.caches = reinterpret_cast<PoolCache*>(p.run + caches_off);
  p.next = reinterpret_cast<std::atomic<uint32_t>*>(p.run + next_off);
  return p;
}

// The central stack (see pool.h for the tag).
void PushCentral(PoolHeader& h, std::atomic<uint32_t>* next, uint32_t i) {
  uint64_t head = h.xhead.load(std::memory_order_relaxed);
  uint64_t spins = 0;
  do {
    SHMPOOL_CHECK(spins++ < kSpinLimit);
    StoreRelaxed(next[i], static_cast<uint32_t>(head & kIndexMask));
  } while (!h.xhead.compare_exchange_weak(head, ((head >> kIndexBits) + 1) << kIndexBits | (i + 1),
                                          std::memory_order_release, std::memory_order_relaxed));
  FetchAddRelaxed(h.xfree, uint64_t{1});
}

// Pops an index, or returns false when the stack is empty.
bool PopCentral(PoolHeader& h, std::atomic<uint32_t>* next, uint32_t* out) {
  uint64_t head = h.xhead.load(std::memory_order_acquire);
  for (uint64_t spins = 0;; ++spins) {
    SHMPOOL_CHECK(spins < kSpinLimit);
    const uint64_t top = head & kIndexMask;
    if (top == 0) return false;
    // May read a link the object no longer has (it was popped meanwhile): the CAS then
    // fails, since the tag has moved.
    const uint64_t link = LoadRelaxed(next[top - 1]) & kIndexMask;
    if (h.xhead.compare_exchange_weak(head, ((head >> kIndexBits) + 1) << kIndexBits | link,
                                      std::memory_order_acq_rel, std::memory_order_acquire)) {
      *out = static_cast<uint32_t>(top - 1);
      const uint64_t left = h.xfree.fetch_sub(1, std::memory_order_relaxed) - 1;
      uint64_t low = LoadRelaxed(h.xlow_free);
      while (left < low &&
             !h.xlow_free.compare_exchange_weak(low, left, std::memory_order_relaxed)) {
      }
      return true;
    }
  }
}

uint64_t RunBytes(const Segment& seg, const PoolSlot& ps) {
  return uint64_t{seg.run(ps.run_start).pages} << kPageShift;
}

int FindLive(const Segment& seg, absl::string_view name) {
  for (uint32_t s = 0; s < kMaxPools; ++s) {
    const PoolSlot& p = seg.header().pools[s];
    if (LoadAcquire(p.xstate) == PoolSlot::kLive &&
        strncmp(p.name, std::string(name).c_str(), sizeof(p.name)) == 0)
      return static_cast<int>(s);
  }
  return -1;
}

// Gives a cache's objects back to the central stack (`count`: the pool's objects).
void DrainCache(PoolHeader& h, std::atomic<uint32_t>* next, uint64_t count, PoolCache& c) {
  const uint32_t cached = LoadRelaxed(c.xcount);
  SHMPOOL_CHECK(cached <= kPoolCacheSlots);
  for (uint32_t n = cached; n > 0; --n) {
    const uint32_t i = c.slots[n - 1];
    StoreRelaxed(c.xcount, n - 1);  // loss over duplication (pool.h)
    if (i < count && LoadRelaxed(next[i]) == kPoolCached) PushCentral(h, next, i);
  }
}

// Gives a cache's objects back to the central stack and frees the record.
void ReturnCache(PoolHeader& h, std::atomic<uint32_t>* next, uint64_t count, PoolCache& c) {
  DrainCache(h, next, count, c);
  FetchAddRelaxed(h.xgets, LoadRelaxed(c.xgets));
  FetchAddRelaxed(h.xhits, LoadRelaxed(c.xhits));
  FetchAddRelaxed(h.xputs, LoadRelaxed(c.xputs));
  StoreRelaxed(c.xgets, uint64_t{0});
  StoreRelaxed(c.xhits, uint64_t{0});
  StoreRelaxed(c.xputs, uint64_t{0});
  StoreRelaxed(c.xtid, uint64_t{0});
  c.xowner.store(0, std::memory_order_seq_cst);
}

std::atomic<uint64_t> next_pool_id{1};

// The open pools of this process, for the thread-exit hook. Leaked: a thread may exit
// after static destructors have run.
struct OpenPools {
  std::mutex mu;  // taken before any Pool's mu_
  absl::flat_hash_map<uint64_t, Pool*> by_id;
};
OpenPools& open_pools() {
  static OpenPools* p = new OpenPools;
  return *p;
}

// Armed when a thread first takes a pool cache; at the thread's exit, gives back its cache
// in every pool still open. Disarmed in the child of a fork (Pool::ForgetThreadCachesAfter
// Fork): the caches are the parent's, and another parent thread may have held
// OpenPools::mu at the fork.
struct PoolThreadExit {
  bool armed = false;
  ~PoolThreadExit() {
    if (!armed) return;
    const uint64_t tid = Tid();
    OpenPools& o = open_pools();
    std::lock_guard<std::mutex> lock(o.mu);
    for (auto& [id, pool] : o.by_id) pool->ReleaseThreadCache(tid);
  }
};
thread_local PoolThreadExit pool_thread_exit;

}  // namespace

absl::StatusOr<uint32_t> CreatePool(const Segment& seg, const PoolSpec& spec) {
  if (spec.name.empty() || spec.name.size() >= sizeof(PoolSlot::name))
    return absl::InvalidArgumentError("a pool name has 1 to 23 bytes");
  if (spec.object_size == 0 || spec.count == 0 || spec.count > kPoolMaxCount)
    return absl::InvalidArgumentError(
        absl::StrFormat("a pool needs an object size > 0 and 1..%d objects", kPoolMaxCount));
  const uint64_t align = std::max<uint64_t>(spec.cache_line_pad ? 64 : 8, spec.align);
  if ((align & (align - 1)) != 0 || align > kPageSize)
    return absl::InvalidArgumentError("pool alignment must be a power of two up to 4096");
  if (FindLive(seg, spec.name) >= 0)
    return absl::AlreadyExistsError(absl::StrFormat("pool \"%s\" already exists", spec.name));
  const uint64_t stride = RoundUp(spec.object_size + spec.headroom, align);
  const uint64_t ncaches = spec.caches;
  const uint64_t caches_off = RoundUp(sizeof(PoolHeader), 64);
  const uint64_t next_off = caches_off + ncaches * sizeof(PoolCache);
  const uint64_t objects_off = RoundUp(next_off + uint64_t{spec.count} * 4, align);
  const uint64_t bytes = objects_off + stride * spec.count;
  const uint64_t pages = RoundUp(bytes, kPageSize) / kPageSize;
  if (pages > seg.data_pages())
    return absl::ResourceExhaustedError("the pool is larger than the arena");
  uint32_t slot = kMaxPools;
  for (uint32_t s = 0; s < kMaxPools && slot == kMaxPools; ++s) {
    uint32_t expect = PoolSlot::kFree;
    if (seg.header().pools[s].xstate.compare_exchange_strong(expect, PoolSlot::kCreating)) slot = s;
  }
  if (slot == kMaxPools)
    return absl::ResourceExhaustedError(absl::StrFormat("the arena has %d pools", kMaxPools));
  PoolSlot& ps = seg.header().pools[slot];
  uint32_t start = AllocRun(seg, static_cast<uint32_t>(pages), kPagePool, slot);
  if (start == kNoRun) {  // take back what the classes hold centrally first (reclaim.h)
    ReclaimCentral(seg, nullptr);
    start = AllocRun(seg, static_cast<uint32_t>(pages), kPagePool, slot);
  }
  if (start == kNoRun) {
    StoreRelease(ps.xstate, uint32_t{PoolSlot::kFree});
    return absl::ResourceExhaustedError(
        absl::StrFormat("no room for pool \"%s\" (%d bytes): arena full or over quota", spec.name,
                        pages * kPageSize));
  }
  ps.run_start = start;
  char* run = RunOf(seg, slot);
  std::memset(run, 0, next_off);  // header and caches: the zero state is valid
  auto* h = reinterpret_cast<PoolHeader*>(run);
  h->object_size = spec.object_size;
  h->stride = stride;
  h->headroom = spec.headroom;
  h->align = align;
  h->count = spec.count;
  h->ncaches = ncaches;
  h->caches_off = caches_off;
  h->next_off = next_off;
  h->objects_off = objects_off;
  h->cache_line_pad = spec.cache_line_pad ? 1 : 0;
  std::atomic<uint32_t>* next = NextOf(run, *h);
  for (uint32_t i = 0; i < spec.count; ++i) StoreRelaxed(next[i], i + 2 <= spec.count ? i + 2 : 0);
  StoreRelaxed(h->xfree, uint64_t{spec.count});
  StoreRelaxed(h->xlow_free, uint64_t{spec.count});
  StoreRelaxed(h->xhead, uint64_t{1});
  std::memset(ps.name, 0, sizeof(ps.name));
  std::memcpy(ps.name, spec.name.data(), spec.name.size());
  StoreRelease(ps.xstate, uint32_t{PoolSlot::kLive});
  return slot;
}

absl::Status DeletePool(const Segment& seg, absl::string_view name) {
  const int s = FindLive(seg, name);
  if (s < 0) return absl::NotFoundError(absl::StrFormat("pool \"%s\" does not exist", name));
  PoolSlot& ps = seg.header().pools[s];
  ps.xstate.store(PoolSlot::kDeleting, std::memory_order_seq_cst);
  const CheckedPool p = CheckPool(seg, static_cast<uint32_t>(s));
  uint32_t open = 0;
  for (uint64_t c = 0; c < p.ncaches; ++c)
    if (p.caches[c].xowner.load(std::memory_order_seq_cst) != 0) ++open;
  const uint64_t free = LoadRelaxed(p.h->xfree);
  if (open != 0 || free != p.count) {
    StoreRelease(ps.xstate, uint32_t{PoolSlot::kLive});
    return absl::FailedPreconditionError(
        absl::StrFormat("pool \"%s\" is in use: %d thread caches open, %d of %d objects out", name,
                        open, p.count - free, p.count));
  }
  SHMPOOL_CHECK(FreeRun(seg, ps.run_start, kPagePool));
  std::memset(ps.name, 0, sizeof(ps.name));
  StoreRelease(ps.xstate, uint32_t{PoolSlot::kFree});
  return absl::OkStatus();
}

uint64_t PoolBytes(const Segment& seg) {
  uint64_t bytes = 0;
  for (uint32_t s = 0; s < kMaxPools; ++s) {
    const PoolSlot& ps = seg.header().pools[s];
    if (LoadAcquire(ps.xstate) == PoolSlot::kLive) bytes += RunBytes(seg, ps);
  }
  return bytes;
}

std::vector<PoolStats> ListPools(const Segment& seg) {
  std::vector<PoolStats> out;
  for (uint32_t s = 0; s < kMaxPools; ++s) {
    const PoolSlot& ps = seg.header().pools[s];
    if (LoadAcquire(ps.xstate) != PoolSlot::kLive) continue;
    const CheckedPool pool = CheckPool(seg, s);
    const PoolHeader& h = *pool.h;
    PoolStats st;
    st.name.assign(ps.name, strnlen(ps.name, sizeof(ps.name)));
    st.slot = s;
    st.object_size = h.object_size;
    st.stride = h.stride;
    st.headroom = h.headroom;
    st.align = h.align;
    st.count = pool.count;
    st.cache_line_pad = h.cache_line_pad != 0;
    st.bytes = RunBytes(seg, ps);
    st.free_central = LoadRelaxed(h.xfree);
    st.low_free = LoadRelaxed(h.xlow_free);
    st.gets = LoadRelaxed(h.xgets) + LoadRelaxed(h.xcentral_gets);
    st.hits = LoadRelaxed(h.xhits);
    st.puts = LoadRelaxed(h.xputs) + LoadRelaxed(h.xcentral_puts);
    st.bad_puts = LoadRelaxed(h.xbad_puts);
    for (uint64_t c = 0; c < pool.ncaches; ++c) {
      const PoolCache& pc = pool.caches[c];
      const uint32_t owner = LoadRelaxed(pc.xowner);
      if (owner == 0) continue;
      st.cached += LoadRelaxed(pc.xcount);
      const uint64_t g = LoadRelaxed(pc.xgets), p = LoadRelaxed(pc.xputs);
      st.gets += g;
      st.hits += LoadRelaxed(pc.xhits);
      st.puts += p;
      auto it = std::find_if(st.procs.begin(), st.procs.end(),
                             [&](const PoolProcUsage& u) { return u.proc == owner - 1; });
      if (it == st.procs.end()) it = st.procs.insert(st.procs.end(), {owner - 1, 0});
      it->held += static_cast<int64_t>(g) - static_cast<int64_t>(p);
    }
    const uint64_t avail = std::min(pool.count, st.free_central + st.cached);
    st.in_use = pool.count - avail;
    out.push_back(std::move(st));
  }
  return out;
}

uint64_t ReclaimPoolCaches(const Segment& seg, uint32_t proc) {
  uint64_t returned = 0;
  for (uint32_t s = 0; s < kMaxPools; ++s) {
    if (LoadAcquire(seg.header().pools[s].xstate) != PoolSlot::kLive) continue;
    const CheckedPool p = CheckPool(seg, s);
    for (uint64_t c = 0; c < p.ncaches; ++c) {
      if (LoadAcquire(p.caches[c].xowner) != proc + 1) continue;
      returned += std::min<uint64_t>(LoadRelaxed(p.caches[c].xcount), kPoolCacheSlots);
      ReturnCache(*p.h, p.next, p.count, p.caches[c]);
    }
  }
  return returned;
}

Pool::Pool(std::shared_ptr<Segment> seg, uint32_t proc, uint32_t slot)
    : seg_(std::move(seg)),
      proc_(proc),
      slot_(slot),
      id_(next_pool_id.fetch_add(1, std::memory_order_relaxed)),
      run_(RunOf(*seg_, slot)),
      hdr_(reinterpret_cast<PoolHeader*>(run_)),
      next_(NextOf(run_, *hdr_)),
      objects_(run_ + hdr_->objects_off),
      owner_pid_(getpid()) {
  static const int registered = pthread_atfork(nullptr, nullptr, &ForgetThreadCachesAfterFork);
  (void)registered;
  OpenPools& o = open_pools();
  std::lock_guard<std::mutex> lock(o.mu);
  o.by_id[id_] = this;
}

absl::StatusOr<std::unique_ptr<Pool>> Pool::Open(std::shared_ptr<Segment> seg, uint32_t proc,
                                                 absl::string_view name) {
  const int s = FindLive(*seg, name);
  if (s < 0) return absl::NotFoundError(absl::StrFormat("pool \"%s\" does not exist", name));
  // Sanity of what another process wrote: the run must be a pool run of this slot.
  const uint64_t e = LoadRelaxed(seg->page_entry(seg->header().pools[s].run_start));
  SHMPOOL_CHECK(PageEntry::KindOf(e) == kPagePool && PageEntry::PoolSlotOf(e) == uint32_t(s));
  std::unique_ptr<Pool> p(new Pool(std::move(seg), proc, static_cast<uint32_t>(s)));
  SHMPOOL_CHECK(p->hdr_->count <= kPoolMaxCount &&
                p->hdr_->objects_off + p->hdr_->stride * p->hdr_->count <=
                    uint64_t{p->seg_->run(p->seg_->header().pools[s].run_start).pages}
                        << kPageShift);
  // The opener holds a cache while the pool is open, so DeletePool sees it (pool.h).
  PoolCache* c = p->ThreadCache();
  if (c == nullptr ||
      p->seg_->header().pools[s].xstate.load(std::memory_order_seq_cst) != PoolSlot::kLive)
    return absl::UnavailableError(
        absl::StrFormat("pool \"%s\" is being deleted or has no free cache record", name));
  return p;
}

Pool::~Pool() {
  if (getpid() != owner_pid_) return;  // a forked child's copy: the caches are the parent's
  {
    OpenPools& o = open_pools();
    std::lock_guard<std::mutex> lock(o.mu);
    o.by_id.erase(id_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [tid, c] : by_tid_) Release(c);
  for (PoolCache* c : spares_) Release(c);
  for (TlsEntry& t : tls_)
    if (t.pool_id == id_) t = {};
}

void Pool::Release(PoolCache* c) { ReturnCache(*hdr_, next_, hdr_->count, *c); }

void Pool::ReleaseThreadCache(uint64_t tid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_tid_.find(tid);
  if (it == by_tid_.end()) return;
  DrainCache(*hdr_, next_, hdr_->count, *it->second);
  StoreRelaxed(it->second->xtid, uint64_t{0});
  spares_.push_back(it->second);
  by_tid_.erase(it);
}

void Pool::ForgetThreadCachesAfterFork() {
  for (TlsEntry& t : tls_) t = {};
  pool_thread_exit.armed = false;
}

PoolCache* Pool::ClaimForThread(uint64_t tid) {
  if (getpid() != owner_pid_) return nullptr;  // a forked child: the central stack only
  std::lock_guard<std::mutex> lock(mu_);
  pool_thread_exit.armed = true;
  auto it = by_tid_.find(tid);  // evicted from the thread's tls_, not lost
  if (it != by_tid_.end()) return it->second;
  if (!spares_.empty()) {
    PoolCache* c = spares_.back();
    spares_.pop_back();
    StoreRelaxed(c->xtid, tid);
    by_tid_[tid] = c;
    return c;
  }
  PoolCache* caches = CachesOf(run_, *hdr_);
  for (uint64_t i = 0; i < hdr_->ncaches; ++i) {
    uint32_t expect = 0;
    if (caches[i].xowner.load(std::memory_order_relaxed) == 0 &&
        caches[i].xowner.compare_exchange_strong(expect, proc_ + 1, std::memory_order_seq_cst)) {
      StoreRelaxed(caches[i].xtid, tid);
      by_tid_[tid] = &caches[i];
      return &caches[i];
    }
  }
  return nullptr;
}

PoolCache* Pool::ThreadCache() {
  for (const TlsEntry& t : tls_)
    if (t.pool_id == id_) return t.cache;
  PoolCache* c = ClaimForThread(Tid());
  if (c == nullptr) return nullptr;
  TlsEntry* slot = &tls_[0];
  for (TlsEntry& t : tls_)
    if (t.pool_id == 0) slot = &t;
  *slot = {id_, c};  // evicts the first entry when all are taken: it refinds its cache
  return c;
}

void* Pool::Get() {
  PoolCache* c = ThreadCache();
  if (__builtin_expect(c != nullptr, 1)) {
    const uint32_t n = LoadRelaxed(c->xcount);
    if (__builtin_expect(n != 0, 1)) {
      const uint32_t i = c->slots[n - 1];
      StoreRelaxed(c->xcount, n - 1);  // commit: the object has left the cache
      StoreRelaxed(next_[i], kPoolInUse);
      BumpOwned(c->xgets, uint64_t{1});
      BumpOwned(c->xhits, uint64_t{1});
      return objects_ + uint64_t{i} * hdr_->stride;
    }
  }
  return GetSlow(c);
}

void* Pool::GetSlow(PoolCache* c) {
  uint32_t i;
  if (c == nullptr) {
    if (!PopCentral(*hdr_, next_, &i)) return nullptr;
    StoreRelaxed(next_[i], kPoolInUse);
    FetchAddRelaxed(hdr_->xcentral_gets, uint64_t{1});
    return objects_ + uint64_t{i} * hdr_->stride;
  }
  // Refill half the cache, one object at a time (pool.h: loss over duplication).
  uint32_t n = LoadRelaxed(c->xcount);
  while (n < kPoolCacheSlots / 2 && PopCentral(*hdr_, next_, &i)) {
    StoreRelaxed(next_[i], kPoolCached);
    c->slots[n] = i;
    StoreRelease(c->xcount, ++n);  // commit: the slot is stored before the count covers it
  }
  if (n == 0) return nullptr;
  i = c->slots[n - 1];
  StoreRelaxed(c->xcount, n - 1);
  StoreRelaxed(next_[i], kPoolInUse);
  BumpOwned(c->xgets, uint64_t{1});
  return objects_ + uint64_t{i} * hdr_->stride;
}

bool Pool::Put(void* obj) {
  const uint64_t off = static_cast<uint64_t>(static_cast<char*>(obj) - objects_);
  const uint64_t i = off / hdr_->stride;
  if (obj == nullptr || off % hdr_->stride != 0 || i >= hdr_->count ||
      LoadRelaxed(next_[i]) != kPoolInUse) {
    FetchAddRelaxed(hdr_->xbad_puts, uint64_t{1});
    return false;
  }
  PoolCache* c = ThreadCache();
  if (c == nullptr) {
    PushCentral(*hdr_, next_, static_cast<uint32_t>(i));
    FetchAddRelaxed(hdr_->xcentral_puts, uint64_t{1});
    return true;
  }
  uint32_t n = LoadRelaxed(c->xcount);
  if (__builtin_expect(n == kPoolCacheSlots, 0)) {
    for (; n > kPoolCacheSlots / 2; --n) {
      const uint32_t j = c->slots[n - 1];
      StoreRelaxed(c->xcount, n - 1);  // leaves the cache before it enters the stack
      PushCentral(*hdr_, next_, j);
    }
  }
  StoreRelaxed(next_[i], kPoolCached);
  c->slots[n] = static_cast<uint32_t>(i);
  StoreRelease(c->xcount, n + 1);  // commit: the object is in the cache, its slot stored first
  BumpOwned(c->xputs, uint64_t{1});
  return true;
}

}  // namespace shmpool::shm
