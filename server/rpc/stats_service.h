// StatsService (shmpool.v1): stats of one arena or all, once (GetStats) or every interval
// (WatchStats, a server stream that ends when the client cancels or the daemon stops), and
// the segment map. A caller reads only the arenas it may (authz.h): "all" leaves the others
// out, a named one is PERMISSION_DENIED.
#pragma once

#include "absl/synchronization/notification.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/peer_table.h"
#include "server/core/session_registry.h"
#include "shmpool/v1/stats.grpc.pb.h"

namespace shmpool::server {

class StatsServiceImpl final : public v1::StatsService::Service {
 public:
  // `stopping` is notified when the daemon shuts down: watches end then.
  StatsServiceImpl(ArenaRegistry* arenas, SessionRegistry* sessions, const PeerTable* peers,
                   const Authz* authz, const absl::Notification* stopping)
      : arenas_(arenas), sessions_(sessions), peers_(peers), authz_(authz), stopping_(stopping) {}

  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                        v1::GetStatsResponse* resp) override;
  grpc::Status WatchStats(grpc::ServerContext* ctx, const v1::WatchStatsRequest* req,
                          grpc::ServerWriter<v1::GetStatsResponse>* writer) override;
  grpc::Status GetSegmentMap(grpc::ServerContext* ctx, const v1::GetSegmentMapRequest* req,
                             v1::SegmentMap* resp) override;

 private:
  // The arenas `name` names that `peer` may read.
  absl::StatusOr<std::vector<ArenaPtr>> Targets(const PeerCredentials& peer,
                                                const std::string& name) const;
  void Fill(const std::vector<ArenaPtr>& targets, v1::GetStatsResponse* resp);

  ArenaRegistry* const arenas_;
  SessionRegistry* const sessions_;
  const PeerTable* const peers_;
  const Authz* const authz_;
  const absl::Notification* const stopping_;
};

}  // namespace shmpool::server
