#include "server/stats_collector.h"

#include "absl/container/flat_hash_map.h"
#include "proto/api/names.h"
#include "server/proto_convert.h"
#include "shm/atomics.h"
#include "shm/stats.h"

namespace shmpool::server {
namespace {

struct ProcCaches {
  uint32_t caches = 0;
  uint64_t cached = 0;
};

// Thread caches held by each process slot (key: its owner word, shm::CacheOwnerOf) and the
// bytes in them, in one pass over the owner table.
absl::flat_hash_map<uint32_t, ProcCaches> CachesByProc(const shm::Segment& seg) {
  absl::flat_hash_map<uint32_t, ProcCaches> out;
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t) {
    const uint32_t owner = shm::LoadAcquire(seg.cache_owner(t));
    if (owner == shm::kCacheNeverUsed || owner == shm::kCacheFree) continue;
    ProcCaches& pc = out[owner];
    ++pc.caches;
    for (uint32_t c = 1; c < shm::kNumClasses; ++c) pc.cached += seg.cache(t).cached_bytes(c);
  }
  return out;
}

}  // namespace

void CollectArenaStats(const ArenaRecord& arena, const std::vector<SessionInfo>& sessions,
                       v1::ArenaStats* out) {
  ToProto(shm::CollectStats(*arena.segment), out);
  out->set_name(api::ArenaName(arena.spec.id));
  out->set_quota(arena.spec.quota);
  if (sessions.empty()) return;
  const absl::flat_hash_map<uint32_t, ProcCaches> caches = CachesByProc(*arena.segment);
  for (const SessionInfo& s : sessions) {
    if (s.generation != arena.generation) continue;
    v1::ClientStats* c = out->add_clients();
    ToProto(s, c->mutable_session());
    if (s.proc_index < 0) continue;
    auto it = caches.find(shm::CacheOwnerOf(static_cast<uint32_t>(s.proc_index)));
    if (it == caches.end()) continue;
    c->set_thread_caches(it->second.caches);
    c->set_cached(it->second.cached);
  }
}

}  // namespace shmpool::server
