#include "server/stats_service.h"

#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "server/grpc_status.h"
#include "server/proto_convert.h"
#include "server/stats_collector.h"

namespace shmpool::server {

absl::Status StatsServiceImpl::Fill(const std::string& name, v1::GetStatsResponse* resp) {
  std::vector<ArenaPtr> targets;
  if (name.empty() || name == api::kAllArenas) {
    targets = arenas_->List();
  } else {
    absl::StatusOr<std::string> id = api::ParseArenaName(name);
    if (!id.ok()) return id.status();
    absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
    if (!a.ok()) return a.status();
    targets.push_back(*a);
  }
  for (const ArenaPtr& a : targets)
    CollectArenaStats(*a, sessions_->List(a->spec.id), resp->add_arenas());
  ToProto(absl::Now(), resp->mutable_read_time());
  return absl::OkStatus();
}

grpc::Status StatsServiceImpl::GetStats(grpc::ServerContext*, const v1::GetStatsRequest* req,
                                        v1::GetStatsResponse* resp) {
  return ToGrpc(Fill(req->name(), resp));
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
  while (!ctx->IsCancelled()) {
    v1::GetStatsResponse resp;
    if (absl::Status st = Fill(req->name(), &resp); !st.ok()) return ToGrpc(st);
    if (!writer->Write(resp)) break;
    if (stopping_->WaitForNotificationWithTimeout(interval)) break;
  }
  return grpc::Status::OK;
}

}  // namespace shmpool::server
