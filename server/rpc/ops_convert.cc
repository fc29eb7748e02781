#include "server/rpc/ops_convert.h"

#include "proto/api/names.h"
#include "server/rpc/proto_convert.h"

namespace shmpool::server {

void FromProto(const v1::ListPoolsRequest& req, ArenaRef* out) { out->name = req.arena(); }

void FromProto(const v1::ListArenasRequest&, AllArenas*) {}

void FromProto(const v1::CreateArenaRequest& req, ArenaSpec* out) {
  const v1::Arena& a = req.arena();
  out->id = req.arena_id();
  out->capacity = a.capacity_bytes();
  out->quota = a.quota_bytes();
  if (a.has_owner_uid()) out->owner = a.owner_uid();
  if (a.has_group_gid()) out->group = a.group_gid();
  out->max_procs = a.max_procs();
  out->max_thread_caches = a.max_thread_caches();
}

void FromProto(const v1::UpdateArenaRequest& req, QuotaUpdate* out) {
  out->name = req.name();
  if (req.has_quota_bytes()) out->quota = req.quota_bytes();
}

void FromProto(const v1::CreatePoolRequest& req, PoolCreate* out) {
  const v1::Pool& p = req.pool();
  out->arena = req.arena();
  out->spec = shm::PoolSpec{.name = req.pool_id(),
                            .object_size = p.object_size(),
                            .count = p.count(),
                            .align = p.align() ? p.align() : 16,
                            .headroom = p.headroom(),
                            .cache_line_pad = p.cache_line_pad()};
}

void FromProto(const v1::DeletePoolRequest& req, PoolRef* out) { out->name = req.name(); }

void FromProto(const v1::AttachArenaRequest& req, AttachRequest* out) {
  out->arena = req.arena();
  out->client_name = req.client_name();
}

void FromProto(const v1::GetSegmentMapRequest& req, MapRequest* out) {
  out->name = req.name();
  out->cells = req.cells();
}

void ToProto(const ArenaView& v, v1::Arena* out) { ToProto(*v.arena, v.live_clients, out); }

void ToProto(const std::vector<ArenaView>& v, v1::ListArenasResponse* out) {
  for (const ArenaView& a : v) ToProto(a, out->add_arenas());
}

void ToProto(const PurgeReport& r, v1::PurgeArenaResponse* out) {
  for (const ArenaPurged& a : r.arenas) {
    v1::ArenaPurge* p = out->add_arenas();
    p->set_name(api::ArenaName(a.id));
    p->set_released_bytes(a.released_bytes);
    ToProto(a.duration, p->mutable_duration());
    p->set_resident_bytes(a.resident_bytes);
  }
  out->set_released_bytes(r.released_bytes);
  ToProto(r.duration, out->mutable_duration());
}

void ToProto(const PoolView& v, v1::Pool* out) {
  const shm::PoolStats& s = v.stats;
  out->set_name(PoolName(v.arena_id, s.name));
  out->set_object_size(s.object_size);
  out->set_count(static_cast<uint32_t>(s.count));
  out->set_align(static_cast<uint32_t>(s.align));
  out->set_headroom(static_cast<uint32_t>(s.headroom));
  out->set_cache_line_pad(s.cache_line_pad);
  out->set_stride(s.stride);
  out->set_bytes(s.bytes);
  out->set_in_use(s.in_use);
  out->set_free(s.free_central);
  out->set_cached(s.cached);
  out->set_lowest_free(s.low_free);
  out->set_gets(s.gets);
  out->set_puts(s.puts);
  out->set_cache_hit_rate(s.gets ? double(s.hits) / double(s.gets) : 0.0);
  out->set_bad_puts(s.bad_puts);
  for (const PoolHolder& u : v.holders) {
    v1::PoolHolder* h = out->add_holders();
    h->set_pid(u.pid);
    h->set_client_name(u.client_name);
    h->set_held(u.held);
  }
}

void ToProto(const std::vector<PoolView>& v, v1::ListPoolsResponse* out) {
  for (const PoolView& p : v) ToProto(p, out->add_pools());
}

void ToProto(const Attached& a, v1::AttachArenaResponse* out) {
  ToProto(a.session, out->mutable_session());
  ToProto(*a.arena, out->mutable_segment());
}

void ToProto(const SegmentMapView& v, v1::SegmentMap* out) {
  out->set_name(api::ArenaName(v.id));
  out->set_page_size(shm::kPageSize);
  out->set_pages(v.map.pages);
  out->set_frontier(v.map.frontier);
  out->set_pages_per_cell(v.pages_per_cell);
  for (const shm::MapCell& c : v.cells) {
    v1::SegmentCell* p = out->add_cells();
    using S = shm::RunState;
    auto n = [&c](S s) { return c.pages[static_cast<size_t>(s)]; };
    p->set_full(n(S::kFull));
    p->set_partial(n(S::kPartial));
    p->set_empty(n(S::kEmpty));
    p->set_large(n(S::kLarge));
    p->set_free(n(S::kFree));
    p->set_purged(n(S::kPurged));
    p->set_unused(n(S::kUnused));
    p->set_slab_fill(c.slab_fill);
  }
}

}  // namespace shmpool::server
