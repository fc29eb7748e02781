#include "shm/client_stats.h"

#include <array>

#include "absl/container/flat_hash_map.h"
#include "shm/atomics.h"
#include "shm/pool.h"

namespace shmpool::shm {
namespace {

// Growth of a counter since its base; 0 when a racing read saw the counter behind it.
uint64_t Since(uint64_t now, uint64_t base) { return now > base ? now - base : 0; }

struct Tally {
  ClientStats stats;
  uint64_t attach_ns = 0;
  std::array<ClientClassStats, kNumClasses> classes{};
};

// Adds one thread cache's figures to its owner's tally. The deltas count only once the
// claim is complete (the stamp is the owner's: layout.h); before, the owner has done
// nothing through the record.
void AddCache(const ThreadCache& tc, Tally& t) {
  ++t.stats.thread_caches;
  const bool claimed = LoadAcquire(tc.xbase_attach_ns) == t.attach_ns;
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    ClientClassStats& s = t.classes[c];
    s.cached += tc.cached_bytes(c);
    if (!claimed) continue;
    s.nmalloc += Since(tc.bins[c].nmalloc(), LoadRelaxed(tc.base[c].xnmalloc));
    s.nfree += Since(tc.nfree(c), LoadRelaxed(tc.base[c].xnfree));
  }
}

// Keeps the classes with a figure and sums them.
void Finish(Tally& t) {
  ClientStats& out = t.stats;
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    ClientClassStats s = t.classes[c];
    if (s.nmalloc == 0 && s.nfree == 0 && s.cached == 0) continue;
    s.cls = c;
    s.size = Class(c).size;
    out.cached += s.cached;
    out.nmalloc += s.nmalloc;
    out.nfree += s.nfree;
    out.class_net_bytes += s.net_bytes();
    out.classes.push_back(s);
  }
}

}  // namespace

std::vector<ClientStats> CollectClientStats(const Segment& seg) {
  const Geometry& g = seg.geometry();
  std::vector<Tally> tallies;
  absl::flat_hash_map<uint32_t, size_t> by_proc;
  for (uint32_t p = 0; p < g.max_procs; ++p) {
    const ProcRecord& rec = seg.proc(p);
    const uint32_t state = rec.state();
    if (state != ProcRecord::kLive && state != ProcRecord::kDead) continue;
    by_proc[p] = tallies.size();
    Tally& t = tallies.emplace_back();
    t.stats.proc = p;
    t.attach_ns = rec.attach_unix_ns;
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      t.classes[c].nmalloc = LoadRelaxed(rec.outside[c].xnmalloc);
      t.classes[c].nfree = LoadRelaxed(rec.outside[c].xnfree);
    }
    t.stats.large_nmalloc = LoadRelaxed(rec.xlarge_nmalloc);
    t.stats.large_nfree = LoadRelaxed(rec.xlarge_nfree);
    t.stats.large_net_bytes = static_cast<int64_t>(LoadRelaxed(rec.xlarge_malloc_bytes)) -
                              static_cast<int64_t>(LoadRelaxed(rec.xlarge_free_bytes));
  }
  for (uint32_t i = 0; i < g.max_thread_caches; ++i) {
    const uint32_t owner = LoadAcquire(seg.cache_owner(i));
    if (owner == kCacheNeverUsed || owner == kCacheFree) continue;
    auto it = by_proc.find(owner - CacheOwnerOf(0));
    if (it != by_proc.end()) AddCache(seg.cache(i), tallies[it->second]);
  }
  for (const PoolStats& pool : ListPools(seg))
    for (const PoolProcUsage& u : pool.procs) {
      auto it = by_proc.find(u.proc);
      if (it != by_proc.end()) tallies[it->second].stats.pools.push_back({pool.name, u.held});
    }
  std::vector<ClientStats> out;
  out.reserve(tallies.size());
  for (Tally& t : tallies) {
    Finish(t);
    out.push_back(std::move(t.stats));
  }
  return out;
}

}  // namespace shmpool::shm
