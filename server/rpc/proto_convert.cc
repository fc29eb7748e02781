#include "server/rpc/proto_convert.h"

#include "absl/strings/str_cat.h"
#include "proto/api/names.h"

namespace shmpool::server {

std::string PoolName(absl::string_view arena_id, absl::string_view pool_id) {
  return absl::StrCat(api::ArenaName(arena_id), "/pools/", pool_id);
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t ns = absl::ToUnixNanos(t);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

void ToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

void ToProto(const QuarantineReason& q, v1::Quarantine* out) {
  out->set_kind(FaultKindName(q.kind));
  out->set_reason(q.message);
  ToProto(q.since, out->mutable_since());
}

void ToProto(const ArenaRecord& a, uint32_t live_clients, v1::Arena* out) {
  out->set_name(api::ArenaName(a.spec.id));
  out->set_capacity_bytes(a.spec.capacity);
  out->set_quota_bytes(a.spec.quota);
  out->set_owner_uid(a.uid);
  out->set_group_gid(a.gid);
  out->set_max_procs(a.spec.max_procs);
  out->set_max_thread_caches(a.spec.max_thread_caches);
  if (a.segment) {
    out->set_segment_path(a.segment->path());
    out->set_segment_bytes(a.segment->sections().total);
    out->set_resident_bytes(a.segment->ResidentBytes());
  } else {
    out->set_segment_path(a.unmapped_path);  // not mapped: no sizes
  }
  out->set_attached_clients(live_clients);
  ToProto(a.create_time, out->mutable_create_time());
  out->set_adopted(a.adopted);
  out->set_generation(a.arena_generation());
  if (a.quarantine)
    ToProto(*a.quarantine, out->mutable_quarantine());
  else
    out->set_stale_frees(
        a.segment->header().generation.xstale_frees.load(std::memory_order_relaxed));
  for (const RetiredGeneration& r : a.retired) {
    v1::RetiredSegment* rs = out->add_retired_segments();
    rs->set_generation(r.generation);
    rs->set_path(r.path);
    rs->set_attached_clients(LiveProcesses(*r.segment));
    rs->set_resident_bytes(r.segment->ResidentBytes());
  }
}

void ToProto(const SessionInfo& s, v1::Session* out) {
  out->set_name(api::SessionName(s.id));
  out->set_arena(api::ArenaName(s.arena_id));
  out->set_client_name(s.client_name);
  out->set_pid(static_cast<uint32_t>(s.peer.pid));
  out->set_uid(s.peer.uid);
  out->set_gid(s.peer.gid);
  out->set_peer(s.peer.address);
  ToProto(s.attach_time, out->mutable_attach_time());
  out->set_state(s.state == SessionInfo::kLive ? v1::Session::LIVE : v1::Session::ATTACHING);
  out->set_proc_index(s.proc_index);
}

void ToProto(const ArenaRecord& a, v1::SegmentInfo* out) {
  const shm::Segment& seg = *a.segment;
  out->set_path(seg.path());
  out->set_segment_bytes(seg.sections().total);
  out->set_capacity_bytes(seg.geometry().capacity);
  out->set_layout_version(seg.header().layout_version);
  out->set_max_procs(seg.geometry().max_procs);
  out->set_max_thread_caches(seg.geometry().max_thread_caches);
  out->set_generation(a.arena_generation());
}

void ToProto(const shm::ArenaStats& s, v1::ArenaStats* out) {
  out->set_capacity(s.capacity);
  out->set_allocated(s.allocated);
  out->set_active(s.active);
  out->set_resident(s.resident);
  out->set_cached(s.cached);
  out->set_retained(s.retained);
  out->set_in_ring(s.in_ring);
  out->set_free_in_slabs(s.free_in_slabs);
  out->set_free_run_bytes(s.free_run_bytes);
  out->set_metadata(s.metadata);
  out->set_pool_bytes(s.pool_bytes);
  out->set_nmalloc(s.nmalloc);
  out->set_nfree(s.nfree);
  out->set_nslabs(s.nslabs);
  out->set_large_allocated(s.large_allocated);
  out->set_large_nmalloc(s.large_nmalloc);
  out->set_large_nfree(s.large_nfree);
  out->set_requested(s.requested);
  out->set_handed_out(s.handed_out);
  out->set_external_fragmentation(s.external_fragmentation());
  out->set_internal_fragmentation(s.internal_fragmentation());
  out->set_rss_ratio(s.rss_ratio());
  out->set_invalid_frees(s.invalid_frees);
  out->set_double_frees(s.double_frees);
  out->set_failed_allocs(s.failed_allocs);
  out->set_purge_count(s.purge_count);
  out->set_purged(s.purged_bytes);
  ToProto(absl::Nanoseconds(s.purge_ns), out->mutable_purge_time());
  out->set_attached_procs(s.attached_procs);
  out->set_thread_caches(s.thread_caches);
  out->set_dirty(s.dirty);
  out->set_parked(s.parked);
  out->set_reclaimable(s.reclaimable);
  out->set_purges_on_demand(s.purges_by_reason[0]);
  out->set_purges_decay(s.purges_by_reason[1]);
  out->set_purges_pressure(s.purges_by_reason[2]);
  for (const shm::ClassStats& c : s.classes) {
    v1::SizeClassStats* p = out->add_size_classes();
    p->set_size_class(c.cls);
    p->set_size(c.size);
    p->set_allocated(c.allocated);
    p->set_active(c.active);
    p->set_cached(c.cached);
    p->set_in_ring(c.in_ring);
    p->set_free_in_slabs(c.free_in_slabs);
    p->set_parked(c.parked);
    p->set_nmalloc(c.nmalloc);
    p->set_nfree(c.nfree);
    p->set_nslabs(c.nslabs);
    p->set_requested(c.requested);
    p->set_handed_out(c.handed_out);
    p->set_external_fragmentation(c.active ? 1.0 - double(c.allocated) / c.active : 0);
    p->set_internal_fragmentation(c.handed_out ? 1.0 - double(c.requested) / c.handed_out : 0);
    if (c.nslabs)
      for (uint64_t n : c.fill_deciles) p->add_slab_fill_deciles(n);
  }
}

}  // namespace shmpool::server
