#include "server/rpc/arena_service.h"

#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "server/core/log.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/proto_convert.h"
#include "shm/purge.h"

namespace shmpool::server {
namespace {

ArenaSpec SpecOf(const v1::CreateArenaRequest& req) {
  const v1::Arena& a = req.arena();
  ArenaSpec s;
  s.id = req.arena_id();
  s.capacity = a.capacity_bytes();
  s.quota = a.quota_bytes();
  if (a.has_owner_uid()) s.owner = a.owner_uid();
  if (a.has_group_gid()) s.group = a.group_gid();
  s.max_procs = a.max_procs();
  s.max_thread_caches = a.max_thread_caches();
  return s;
}

// Who asked, for the log.
void AddPeer(LogLine& line, const PeerTable& peers, const grpc::ServerContext& ctx) {
  const PeerCredentials p = peers.Lookup(ctx.peer());
  if (p.local)
    line.Kv("pid", p.pid).Kv("uid", p.uid);
  else
    line.Kv("peer", p.address);
}

}  // namespace

absl::Status ArenaServiceImpl::CheckManage(const grpc::ServerContext& ctx,
                                           absl::string_view id) const {
  absl::StatusOr<ArenaPtr> a = arenas_->Get(id);
  if (!a.ok()) return a.status();
  const PeerCredentials peer = peers_->Lookup(ctx.peer());
  absl::Status st = authz_->Check(peer, **a, ArenaAction::kManage);
  if (!st.ok()) LogInfo("manage_refused").Kv("arena", id).Kv("pid", peer.pid).Kv("uid", peer.uid);
  return st;
}

grpc::Status ArenaServiceImpl::CreateArena(grpc::ServerContext* ctx,
                                           const v1::CreateArenaRequest* req, v1::Arena* resp) {
  ArenaSpec spec = SpecOf(*req);
  const absl::Status allowed = authz_->CheckCreate(peers_->Lookup(ctx->peer()), spec);
  absl::StatusOr<ArenaPtr> a = allowed.ok() ? arenas_->Create(spec) : allowed;
  if (!a.ok()) {
    LogLine line(Level::kInfo, "create_arena_refused");
    line.Kv("arena", req->arena_id()).Kv("reason", a.status().message());
    AddPeer(line, *peers_, *ctx);
    return ToGrpc(a.status());
  }
  ToProto(**a, 0, resp);
  return grpc::Status::OK;
}

grpc::Status ArenaServiceImpl::GetArena(grpc::ServerContext* ctx, const v1::GetArenaRequest* req,
                                        v1::Arena* resp) {
  absl::StatusOr<std::string> id = api::ParseArenaName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
  if (!a.ok()) return ToGrpc(a.status());
  const PeerCredentials peer = peers_->Lookup(ctx->peer());
  if (absl::Status st = authz_->Check(peer, **a, ArenaAction::kRead); !st.ok()) return ToGrpc(st);
  ToProto(**a, arenas_->LiveClients(**a), resp);
  return grpc::Status::OK;
}

grpc::Status ArenaServiceImpl::ListArenas(grpc::ServerContext* ctx, const v1::ListArenasRequest*,
                                          v1::ListArenasResponse* resp) {
  absl::StatusOr<std::vector<ArenaPtr>> readable =
      authz_->Readable(peers_->Lookup(ctx->peer()), arenas_->List());
  if (!readable.ok()) return ToGrpc(readable.status());
  for (const ArenaPtr& a : *readable) ToProto(*a, arenas_->LiveClients(*a), resp->add_arenas());
  return grpc::Status::OK;
}

grpc::Status ArenaServiceImpl::DeleteArena(grpc::ServerContext* ctx,
                                           const v1::DeleteArenaRequest* req,
                                           v1::DeleteArenaResponse*) {
  absl::StatusOr<std::string> id = api::ParseArenaName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  absl::Status st = CheckManage(*ctx, *id);
  if (st.ok()) st = arenas_->Delete(*id);
  if (!st.ok()) {
    LogLine line(Level::kInfo, "delete_arena_refused");
    line.Kv("arena", *id).Kv("reason", st.message());
    AddPeer(line, *peers_, *ctx);
  }
  return ToGrpc(st);
}

grpc::Status ArenaServiceImpl::ResetArena(grpc::ServerContext* ctx,
                                          const v1::ResetArenaRequest* req, v1::Arena* resp) {
  absl::StatusOr<std::string> id = api::ParseArenaName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  if (absl::Status st = CheckManage(*ctx, *id); !st.ok()) return ToGrpc(st);
  // Clients stay attached: they are told, and switch to the new generation.
  absl::StatusOr<ArenaPtr> a = arenas_->Reset(*id);
  if (!a.ok()) {
    LogLine line(Level::kWarning, "reset_arena_failed");
    line.Kv("arena", *id).Kv("reason", a.status().message());
    AddPeer(line, *peers_, *ctx);
    return ToGrpc(a.status());
  }
  ToProto(**a, arenas_->LiveClients(**a), resp);
  return grpc::Status::OK;
}

grpc::Status ArenaServiceImpl::UpdateArena(grpc::ServerContext* ctx,
                                           const v1::UpdateArenaRequest* req, v1::Arena* resp) {
  absl::StatusOr<std::string> id = api::ParseArenaName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
  if (!a.ok()) return ToGrpc(a.status());
  if (absl::Status st = CheckManage(*ctx, *id); !st.ok()) return ToGrpc(st);
  if (req->has_quota_bytes()) {
    a = arenas_->UpdateQuota(*id, req->quota_bytes());
    if (!a.ok()) {
      LogLine line(Level::kInfo, "update_arena_refused");
      line.Kv("arena", *id).Kv("reason", a.status().message());
      AddPeer(line, *peers_, *ctx);
      return ToGrpc(a.status());
    }
  }
  ToProto(**a, arenas_->LiveClients(**a), resp);
  return grpc::Status::OK;
}

grpc::Status ArenaServiceImpl::PurgeArena(grpc::ServerContext* ctx,
                                          const v1::PurgeArenaRequest* req,
                                          v1::PurgeArenaResponse* resp) {
  const absl::Time start = absl::Now();
  std::vector<ArenaPtr> targets;
  if (req->name().empty() || req->name() == api::kAllArenas) {
    // Every arena the caller may manage (all of them for an admin); an unauthenticated
    // peer is refused, not given an empty list.
    const PeerCredentials peer = peers_->Lookup(ctx->peer());
    if (absl::Status st = authz_->CheckAuthenticated(peer); !st.ok()) return ToGrpc(st);
    for (ArenaPtr& a : arenas_->List())
      if (authz_->Check(peer, *a, ArenaAction::kManage).ok()) targets.push_back(std::move(a));
  } else {
    absl::StatusOr<std::string> id = api::ParseArenaName(req->name());
    if (!id.ok()) return ToGrpc(id.status());
    if (absl::Status st = CheckManage(*ctx, *id); !st.ok()) return ToGrpc(st);
    absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
    if (!a.ok()) return ToGrpc(a.status());
    targets.push_back(*a);
  }
  const bool one = targets.size() == 1 && !req->name().empty() && req->name() != api::kAllArenas;
  uint64_t total = 0;
  for (const ArenaPtr& a : targets) {
    shm::PurgeResult r;
    absl::Status st =
        arenas_->WithSegment(*a, [&](const shm::Segment& seg) { r = shm::Purge(seg); });
    if (!st.ok()) {
      if (one) return ToGrpc(st);
      continue;  // all arenas: a quarantined one is skipped, the others purged
    }
    v1::ArenaPurge* p = resp->add_arenas();
    p->set_name(api::ArenaName(a->spec.id));
    p->set_released_bytes(r.released_bytes);
    ToProto(absl::Nanoseconds(r.nanoseconds), p->mutable_duration());
    p->set_resident_bytes(a->segment->ResidentBytes());
    total += r.released_bytes;
    LogInfo("arena_purged")
        .Kv("arena", a->spec.id)
        .Kv("released", r.released_bytes)
        .Kv("ns", r.nanoseconds)
        .Kv("resident", p->resident_bytes());
  }
  resp->set_released_bytes(total);
  ToProto(absl::Now() - start, resp->mutable_duration());
  return grpc::Status::OK;
}

}  // namespace shmpool::server
