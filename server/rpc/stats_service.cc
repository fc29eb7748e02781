#include "server/rpc/stats_service.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/proto_convert.h"
#include "server/rpc/stats_collector.h"
#include "shm/slab_map.h"

namespace shmpool::server {

absl::StatusOr<std::vector<ArenaPtr>> StatsServiceImpl::Targets(const PeerCredentials& peer,
                                                                const std::string& name) const {
  if (name.empty() || name == api::kAllArenas) return authz_->Readable(peer, arenas_->List());
  absl::StatusOr<std::string> id = api::ParseArenaName(name);
  if (!id.ok()) return id.status();
  absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
  if (!a.ok()) return a.status();
  if (absl::Status st = authz_->Check(peer, **a, ArenaAction::kRead); !st.ok()) return st;
  return std::vector<ArenaPtr>{*a};
}

void StatsServiceImpl::Fill(const std::vector<ArenaPtr>& targets, v1::GetStatsResponse* resp) {
  // A quarantined arena is listed with its quarantine; the others are read as always.
  for (const ArenaPtr& a : targets)
    CollectArenaStats(*arenas_, *a, sessions_->List(a->spec.id), resp->add_arenas()).IgnoreError();
  ToProto(absl::Now(), resp->mutable_read_time());
}

grpc::Status StatsServiceImpl::GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                                        v1::GetStatsResponse* resp) {
  absl::StatusOr<std::vector<ArenaPtr>> targets = Targets(peers_->Lookup(ctx->peer()), req->name());
  if (!targets.ok()) return ToGrpc(targets.status());
  if (!req->name().empty() && req->name() != api::kAllArenas) {
    // One arena by name: a quarantined one is FAILED_PRECONDITION, naming why.
    const ArenaPtr& a = targets->front();
    absl::Status st =
        CollectArenaStats(*arenas_, *a, sessions_->List(a->spec.id), resp->add_arenas());
    if (!st.ok()) return ToGrpc(st);
    ToProto(absl::Now(), resp->mutable_read_time());
    return grpc::Status::OK;
  }
  Fill(*targets, resp);
  return grpc::Status::OK;
}

grpc::Status StatsServiceImpl::WatchStats(grpc::ServerContext* ctx,
                                          const v1::WatchStatsRequest* req,
                                          grpc::ServerWriter<v1::GetStatsResponse>* writer) {
  absl::Duration interval = absl::Seconds(1);
  if (req->has_interval())
    interval =
        absl::Seconds(req->interval().seconds()) + absl::Nanoseconds(req->interval().nanos());
  if (interval < absl::Milliseconds(10))
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "interval must be at least 10ms (or unset for 1s)");
  // The caller's credentials are read once, while its connection (and so its fd) is alive.
  const PeerCredentials peer = peers_->Lookup(ctx->peer());
  while (!ctx->IsCancelled()) {
    // Each time anew: arenas come and go while the watch runs.
    absl::StatusOr<std::vector<ArenaPtr>> targets = Targets(peer, req->name());
    if (!targets.ok()) return ToGrpc(targets.status());
    v1::GetStatsResponse resp;
    Fill(*targets, &resp);
    if (!writer->Write(resp)) break;
    if (stopping_->WaitForNotificationWithTimeout(interval)) break;
  }
  return grpc::Status::OK;
}

grpc::Status StatsServiceImpl::GetSegmentMap(grpc::ServerContext* ctx,
                                             const v1::GetSegmentMapRequest* req,
                                             v1::SegmentMap* resp) {
  absl::StatusOr<std::string> id = api::ParseArenaName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
  if (!a.ok()) return ToGrpc(a.status());
  const PeerCredentials peer = peers_->Lookup(ctx->peer());
  if (absl::Status st = authz_->Check(peer, **a, ArenaAction::kRead); !st.ok()) return ToGrpc(st);
  const uint32_t cells = req->cells() ? req->cells() : 1024;
  if (cells > 65536)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cells must be at most 65536");
  shm::SegmentMap map;
  uint64_t pages_per_cell = 0;
  std::vector<shm::MapCell> out;
  if (absl::Status st = arenas_->WithSegment(**a,
                                             [&](const shm::Segment& seg) {
                                               map = shm::ReadSegmentMap(seg);
                                               out = shm::MapCells(map, cells, &pages_per_cell);
                                             });
      !st.ok())
    return ToGrpc(st);
  resp->set_name(api::ArenaName(*id));
  resp->set_page_size(shm::kPageSize);
  resp->set_pages(map.pages);
  resp->set_frontier(map.frontier);
  resp->set_pages_per_cell(pages_per_cell);
  for (const shm::MapCell& c : out) {
    v1::SegmentCell* p = resp->add_cells();
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
  return grpc::Status::OK;
}

}  // namespace shmpool::server
