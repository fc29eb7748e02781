#include "server/rpc/stats_collector.h"

#include "absl/container/flat_hash_map.h"
#include "proto/api/names.h"
#include "server/rpc/proto_convert.h"
#include "shm/client_stats.h"
#include "shm/stats.h"

namespace shmpool::server {
namespace {

void ToProto(const std::string& arena_id, const shm::ClientStats& s, v1::ClientStats* out) {
  out->set_thread_caches(s.thread_caches);
  out->set_cached_bytes(s.cached);
  out->set_nmalloc(s.nmalloc);
  out->set_nfree(s.nfree);
  out->set_net_bytes(s.net_bytes());
  out->set_large_nmalloc(s.large_nmalloc);
  out->set_large_nfree(s.large_nfree);
  out->set_large_net_bytes(s.large_net_bytes);
  for (const shm::ClientClassStats& c : s.classes) {
    v1::ClientClassStats* p = out->add_size_classes();
    p->set_size_class(c.cls);
    p->set_size(c.size);
    p->set_nmalloc(c.nmalloc);
    p->set_nfree(c.nfree);
    p->set_net(c.net());
    p->set_allocated_bytes(c.nmalloc * c.size);
    p->set_net_bytes(c.net_bytes());
    p->set_cached_bytes(c.cached);
  }
  for (const shm::ClientPoolStats& pool : s.pools) {
    v1::ClientPoolStats* p = out->add_pools();
    p->set_pool(PoolName(arena_id, pool.pool));
    p->set_held(pool.held);
  }
}

// Fills `out` from the segment; throws SegmentFault (inside WithSegment) when it is unsound.
void ReadArenaStats(const ArenaRecord& arena, const std::vector<SessionInfo>& sessions,
                    v1::ArenaStats* out) {
  server::ToProto(shm::CollectStats(*arena.segment), out);
  if (sessions.empty()) return;
  const std::vector<shm::ClientStats> clients = shm::CollectClientStats(*arena.segment);
  // Process record index -> its stats: one pass over each list, not sessions x clients.
  absl::flat_hash_map<uint32_t, const shm::ClientStats*> by_proc;
  by_proc.reserve(clients.size());
  for (const shm::ClientStats& k : clients) by_proc.emplace(k.proc, &k);
  for (const SessionInfo& s : sessions) {
    if (s.generation != arena.generation) continue;
    v1::ClientStats* c = out->add_clients();
    server::ToProto(s, c->mutable_session());
    if (s.proc_index < 0) continue;
    auto it = by_proc.find(static_cast<uint32_t>(s.proc_index));
    if (it != by_proc.end()) ToProto(arena.spec.id, *it->second, c);
  }
  out->set_sessions(static_cast<uint32_t>(out->clients_size()));
}

}  // namespace

absl::Status CollectArenaStats(ArenaRegistry& arenas, SessionRegistry& sessions_registry,
                               const ArenaRecord& arena, v1::ArenaStats* out) {
  const std::vector<SessionInfo> sessions = sessions_registry.List(arena.spec.id);
  v1::ArenaStats read;
  absl::Status st = arenas.WithSegment(
      arena, [&](const shm::Segment&) { ReadArenaStats(arena, sessions, &read); });
  if (st.ok()) {
    *out = std::move(read);
  } else {
    // Nothing read from the segment: what the record knows, and why.
    out->set_capacity_bytes(arena.spec.capacity);
    absl::StatusOr<ArenaPtr> now = arenas.Get(arena.spec.id);
    if (now.ok() && (*now)->quarantine) ToProto(*(*now)->quarantine, out->mutable_quarantine());
  }
  out->set_name(api::ArenaName(arena.spec.id));
  out->set_quota_bytes(arena.spec.quota);
  out->set_sessions_opened(sessions_registry.Opened(arena.spec.id));
  return st;
}

}  // namespace shmpool::server
