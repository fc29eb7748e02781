// ArenaService (shmpool.v1): create, get, list, delete, reset and purge arenas, over the
// ArenaRegistry. Synchronous handlers: each is short (purge, the longest, is bounded by the
// kernel's hole punching: about 100 ms per GiB of free pages).
#pragma once

#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/peer_table.h"
#include "shmpool/v1/arena.grpc.pb.h"

namespace shmpool::server {

class ArenaServiceImpl final : public v1::ArenaService::Service {
 public:
  ArenaServiceImpl(ArenaRegistry* arenas, const PeerTable* peers, const Authz* authz)
      : arenas_(arenas), peers_(peers), authz_(authz) {}

  grpc::Status CreateArena(grpc::ServerContext* ctx, const v1::CreateArenaRequest* req,
                           v1::Arena* resp) override;
  grpc::Status GetArena(grpc::ServerContext* ctx, const v1::GetArenaRequest* req,
                        v1::Arena* resp) override;
  grpc::Status ListArenas(grpc::ServerContext* ctx, const v1::ListArenasRequest* req,
                          v1::ListArenasResponse* resp) override;
  grpc::Status DeleteArena(grpc::ServerContext* ctx, const v1::DeleteArenaRequest* req,
                           v1::DeleteArenaResponse* resp) override;
  grpc::Status ResetArena(grpc::ServerContext* ctx, const v1::ResetArenaRequest* req,
                          v1::Arena* resp) override;
  grpc::Status PurgeArena(grpc::ServerContext* ctx, const v1::PurgeArenaRequest* req,
                          v1::PurgeArenaResponse* resp) override;
  grpc::Status UpdateArena(grpc::ServerContext* ctx, const v1::UpdateArenaRequest* req,
                           v1::Arena* resp) override;

 private:
  // PERMISSION_DENIED unless the caller may manage arena `id` (authz.h); NOT_FOUND.
  absl::Status CheckManage(const grpc::ServerContext& ctx, absl::string_view id) const;

  ArenaRegistry* const arenas_;
  const PeerTable* const peers_;
  const Authz* const authz_;
};

}  // namespace shmpool::server
