// PoolService (shmpool.v1): create, list and delete the object pools of an arena; each
// handler is PoolOps' function (server/core/pool_ops.h) through Call (call.h).
#pragma once

#include "server/core/pool_ops.h"
#include "server/rpc/call.h"
#include "shmpool/v1/pool.grpc.pb.h"

namespace shmpool::server {

class PoolServiceImpl final : public v1::PoolService::Service {
 public:
  PoolServiceImpl(ArenaRegistry* arenas, const PeerTable* peers, const Authz* authz)
      : resolver_(arenas, peers, authz), ops_(&resolver_) {}

  grpc::Status CreatePool(grpc::ServerContext* ctx, const v1::CreatePoolRequest* req,
                          v1::Pool* resp) override {
    return Call(ctx, req, resp, ops_, &PoolOps::Create);
  }
  grpc::Status ListPools(grpc::ServerContext* ctx, const v1::ListPoolsRequest* req,
                         v1::ListPoolsResponse* resp) override {
    return Call(ctx, req, resp, ops_, &PoolOps::List);
  }
  grpc::Status DeletePool(grpc::ServerContext* ctx, const v1::DeletePoolRequest* req,
                          v1::DeletePoolResponse* resp) override {
    return Call(ctx, req, resp, ops_, &PoolOps::Delete);
  }

 private:
  const Resolver resolver_;
  const PoolOps ops_;
};

}  // namespace shmpool::server
