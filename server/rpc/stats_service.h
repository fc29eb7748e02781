// StatsService (shmpool.v1): stats of one arena or all, once (GetStats) or every interval
// (WatchStats, a server stream that ends when the client cancels or the daemon stops), and
// the segment map. Which arenas a request reads is StatsOps' (server/core/stats_ops.h);
// their stats are collected here (stats_collector.h).
#pragma once

#include "absl/synchronization/notification.h"
#include "server/core/session_registry.h"
#include "server/core/stats_ops.h"
#include "server/rpc/call.h"
#include "shmpool/v1/stats.grpc.pb.h"

namespace shmpool::server {

class StatsServiceImpl final : public v1::StatsService::Service {
 public:
  // `stopping` is notified when the daemon shuts down: watches end then.
  StatsServiceImpl(ArenaRegistry* arenas, SessionRegistry* sessions, const PeerTable* peers,
                   const Authz* authz, const absl::Notification* stopping)
      : arenas_(arenas),
        sessions_(sessions),
        stopping_(stopping),
        resolver_(arenas, peers, authz),
        ops_(&resolver_) {}

  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                        v1::GetStatsResponse* resp) override {
    return Call(ctx, req, resp, ops_, &StatsOps::Targets,
                [this](const StatsTargets& t, v1::GetStatsResponse* r) { return Collect(t, r); });
  }
  grpc::Status WatchStats(grpc::ServerContext* ctx, const v1::WatchStatsRequest* req,
                          grpc::ServerWriter<v1::GetStatsResponse>* writer) override;
  grpc::Status GetSegmentMap(grpc::ServerContext* ctx, const v1::GetSegmentMapRequest* req,
                             v1::SegmentMap* resp) override {
    return Call(ctx, req, resp, ops_, &StatsOps::SegmentMap);
  }

 private:
  // The stats of `targets`. One arena by name: a quarantined one is FAILED_PRECONDITION,
  // naming why; all: a quarantined one is listed with its quarantine.
  absl::Status Collect(const StatsTargets& targets, v1::GetStatsResponse* resp) const;

  ArenaRegistry* const arenas_;
  SessionRegistry* const sessions_;
  const absl::Notification* const stopping_;
  const Resolver resolver_;
  const StatsOps ops_;
};

}  // namespace shmpool::server
