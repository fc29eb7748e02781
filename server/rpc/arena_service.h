// ArenaService (shmpool.v1): create, get, list, delete, reset, purge and update arenas;
// each handler is ArenaOps' function of the same name (server/core/arena_ops.h) through
// Call (call.h). Synchronous handlers: each is short (purge, the longest, is bounded by
// the kernel's hole punching: about 100 ms per GiB of free pages).
#pragma once

#include "server/core/arena_ops.h"
#include "server/rpc/call.h"
#include "shmpool/v1/arena.grpc.pb.h"

namespace shmpool::server {

class ArenaServiceImpl final : public v1::ArenaService::Service {
 public:
  ArenaServiceImpl(ArenaRegistry* arenas, const PeerTable* peers, const Authz* authz)
      : resolver_(arenas, peers, authz), ops_(&resolver_) {}

  grpc::Status CreateArena(grpc::ServerContext* ctx, const v1::CreateArenaRequest* req,
                           v1::Arena* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::Create);
  }
  grpc::Status GetArena(grpc::ServerContext* ctx, const v1::GetArenaRequest* req,
                        v1::Arena* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::Get);
  }
  grpc::Status ListArenas(grpc::ServerContext* ctx, const v1::ListArenasRequest* req,
                          v1::ListArenasResponse* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::List);
  }
  grpc::Status DeleteArena(grpc::ServerContext* ctx, const v1::DeleteArenaRequest* req,
                           v1::DeleteArenaResponse* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::Delete);
  }
  grpc::Status ResetArena(grpc::ServerContext* ctx, const v1::ResetArenaRequest* req,
                          v1::Arena* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::Reset);
  }
  grpc::Status PurgeArena(grpc::ServerContext* ctx, const v1::PurgeArenaRequest* req,
                          v1::PurgeArenaResponse* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::Purge);
  }
  grpc::Status UpdateArena(grpc::ServerContext* ctx, const v1::UpdateArenaRequest* req,
                           v1::Arena* resp) override {
    return Call(ctx, req, resp, ops_, &ArenaOps::Update);
  }

 private:
  const Resolver resolver_;
  const ArenaOps ops_;
};

}  // namespace shmpool::server
