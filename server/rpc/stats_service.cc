#include "server/rpc/stats_service.h"

#include <optional>

#include "absl/time/clock.h"
#include "server/rpc/proto_convert.h"
#include "server/rpc/stats_collector.h"

namespace shmpool::server {

absl::Status StatsServiceImpl::Collect(const StatsTargets& targets,
                                       v1::GetStatsResponse* resp) const {
  for (const ArenaPtr& a : targets.arenas) {
    absl::Status st =
        CollectArenaStats(*arenas_, *a, sessions_->List(a->spec.id), resp->add_arenas());
    if (!st.ok() && targets.one) return st;
  }
  ToProto(absl::Now(), resp->mutable_read_time());
  return absl::OkStatus();
}

grpc::Status StatsServiceImpl::WatchStats(grpc::ServerContext* ctx,
                                          const v1::WatchStatsRequest* req,
                                          grpc::ServerWriter<v1::GetStatsResponse>* writer) {
  std::optional<absl::Duration> asked;
  if (req->has_interval())
    asked = absl::Seconds(req->interval().seconds()) + absl::Nanoseconds(req->interval().nanos());
  const absl::StatusOr<absl::Duration> interval = WatchInterval(asked);
  if (!interval.ok()) return ToGrpc(interval.status());
  // The caller's credentials are read once, while its connection (and so its fd) is alive.
  const PeerCredentials peer = resolver_.Caller(ctx->peer());
  while (!ctx->IsCancelled()) {
    // Each time anew: arenas come and go while the watch runs.
    absl::StatusOr<StatsTargets> targets = ops_.Targets(peer, ArenaRef{req->name()});
    if (!targets.ok()) return ToGrpc(targets.status());
    targets->one = false;  // a watch goes on past a quarantine, showing it
    v1::GetStatsResponse resp;
    Collect(*targets, &resp).IgnoreError();
    if (!writer->Write(resp)) break;
    if (stopping_->WaitForNotificationWithTimeout(*interval)) break;
  }
  return grpc::Status::OK;
}

}  // namespace shmpool::server
