// PoolService (shmpool.v1): create, list and delete the object pools of an arena
// (shm/pool.h). Pools live in the arena's segment; the daemon only creates and deletes
// them, one at a time and never during a reset (ArenaRegistry::ChangeCurrent), and reads
// their counters. Clients get and put objects without it.
#pragma once

#include "absl/synchronization/mutex.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/peer_table.h"
#include "shmpool/v1/pool.grpc.pb.h"

namespace shmpool::server {

class PoolServiceImpl final : public v1::PoolService::Service {
 public:
  PoolServiceImpl(ArenaRegistry* arenas, const PeerTable* peers, const Authz* authz)
      : arenas_(arenas), peers_(peers), authz_(authz) {}

  grpc::Status CreatePool(grpc::ServerContext* ctx, const v1::CreatePoolRequest* req,
                          v1::Pool* resp) override;
  grpc::Status ListPools(grpc::ServerContext* ctx, const v1::ListPoolsRequest* req,
                         v1::ListPoolsResponse* resp) override;
  grpc::Status DeletePool(grpc::ServerContext* ctx, const v1::DeletePoolRequest* req,
                          v1::DeletePoolResponse* resp) override;

 private:
  ArenaRegistry* const arenas_;
  // Held by CreatePool: one create at a time, so the per-uid pool count it checks is exact.
  absl::Mutex create_mu_;
  const PeerTable* const peers_;
  const Authz* const authz_;
};

}  // namespace shmpool::server
