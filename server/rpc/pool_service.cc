#include "server/rpc/pool_service.h"

#include "absl/strings/str_format.h"
#include "proto/api/names.h"
#include "server/core/log.h"
#include "server/core/tenant_limits.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/proto_convert.h"
#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/pool.h"

namespace shmpool::server {
namespace {

// "arenas/{a}/pools/{p}" -> {a, p}.
absl::StatusOr<std::pair<std::string, std::string>> ParsePoolName(absl::string_view name) {
  const size_t at = name.find("/pools/");
  if (at == absl::string_view::npos)
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\" is not a pool name (arenas/ARENA/pools/POOL)", name));
  absl::StatusOr<std::string> arena = api::ParseArenaName(name.substr(0, at));
  if (!arena.ok()) return arena.status();
  return std::make_pair(*arena, std::string(name.substr(at + 7)));
}

absl::Status CheckPoolId(absl::string_view id) {
  bool ok = !id.empty() && id.size() < sizeof(shm::PoolSlot::name) && id[0] != '.' && id[0] != '-';
  for (char c : id)
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat(
      "pool id \"%s\": 1 to 23 characters of [a-z0-9-_.], not starting with '.' or '-'", id));
}

void ToProto(const ArenaRecord& a, const shm::PoolStats& s, v1::Pool* out) {
  out->set_name(PoolName(a.spec.id, s.name));
  out->set_object_size(s.object_size);
  out->set_count(static_cast<uint32_t>(s.count));
  out->set_align(static_cast<uint32_t>(s.align));
  out->set_headroom(static_cast<uint32_t>(s.headroom));
  out->set_cache_line_pad(s.cache_line_pad);
  out->set_stride(s.stride);
  out->set_bytes(s.bytes);
  out->set_in_use(s.in_use);
  out->set_free(s.free_central);
  out->set_cached(s.cached);
  out->set_lowest_free(s.low_free);
  out->set_gets(s.gets);
  out->set_puts(s.puts);
  out->set_cache_hit_rate(s.gets ? double(s.hits) / double(s.gets) : 0.0);
  out->set_bad_puts(s.bad_puts);
  for (const shm::PoolProcUsage& u : s.procs) {
    v1::PoolHolder* h = out->add_holders();
    SHMPOOL_CHECK(u.proc < a.segment->geometry().max_procs);  // read from the segment
    const shm::ProcRecord& r = a.segment->proc(u.proc);
    h->set_pid(r.pid);
    h->set_client_name(std::string(r.name, strnlen(r.name, sizeof(r.name))));
    h->set_held(u.held);
  }
}

}  // namespace

grpc::Status PoolServiceImpl::CreatePool(grpc::ServerContext* ctx, const v1::CreatePoolRequest* req,
                                         v1::Pool* resp) {
  absl::StatusOr<std::string> id = api::ParseArenaName(req->arena());
  if (!id.ok()) return ToGrpc(id.status());
  if (absl::Status st = CheckPoolId(req->pool_id()); !st.ok()) return ToGrpc(st);
  const PeerCredentials peer = peers_->Lookup(ctx->peer());
  const v1::Pool& p = req->pool();
  shm::PoolSpec spec{.name = req->pool_id(),
                     .object_size = p.object_size(),
                     .count = p.count(),
                     .align = p.align() ? p.align() : 16,
                     .headroom = p.headroom(),
                     .cache_line_pad = p.cache_line_pad()};
  absl::MutexLock lock(&create_mu_);
  const std::vector<ArenaPtr> all = arenas_->List();
  return ToGrpc(arenas_->ChangeCurrent(*id, [&](const ArenaRecord& a) {
    if (absl::Status st = authz_->Check(peer, a, ArenaAction::kManage); !st.ok()) return st;
    if (absl::Status st = CheckPoolLimit(arenas_->limits(), a.uid, all); !st.ok()) return st;
    absl::StatusOr<uint32_t> slot = shm::CreatePool(*a.segment, spec);
    if (!slot.ok()) return slot.status();
    LogInfo("pool_created")
        .Kv("arena", *id)
        .Kv("pool", spec.name)
        .Kv("object_size", spec.object_size)
        .Kv("count", spec.count);
    for (const shm::PoolStats& s : shm::ListPools(*a.segment))
      if (s.slot == *slot) ToProto(a, s, resp);
    return absl::OkStatus();
  }));
}

grpc::Status PoolServiceImpl::ListPools(grpc::ServerContext* ctx, const v1::ListPoolsRequest* req,
                                        v1::ListPoolsResponse* resp) {
  const PeerCredentials peer = peers_->Lookup(ctx->peer());
  std::vector<ArenaPtr> targets;
  if (req->arena().empty() || req->arena() == api::kAllArenas) {
    absl::StatusOr<std::vector<ArenaPtr>> readable = authz_->Readable(peer, arenas_->List());
    if (!readable.ok()) return ToGrpc(readable.status());
    targets = std::move(*readable);
  } else {
    absl::StatusOr<std::string> id = api::ParseArenaName(req->arena());
    if (!id.ok()) return ToGrpc(id.status());
    absl::StatusOr<ArenaPtr> a = arenas_->Get(*id);
    if (!a.ok()) return ToGrpc(a.status());
    if (absl::Status st = authz_->Check(peer, **a, ArenaAction::kRead); !st.ok()) return ToGrpc(st);
    targets.push_back(*a);
  }
  const bool one = !req->arena().empty() && req->arena() != api::kAllArenas;
  for (const ArenaPtr& a : targets) {
    v1::ListPoolsResponse read;
    absl::Status st = arenas_->WithSegment(*a, [&](const shm::Segment& seg) {
      for (const shm::PoolStats& s : shm::ListPools(seg)) ToProto(*a, s, read.add_pools());
    });
    if (!st.ok() && one) return ToGrpc(st);
    for (v1::Pool& p : *read.mutable_pools()) *resp->add_pools() = std::move(p);  // all: skipped
  }
  return grpc::Status::OK;
}

grpc::Status PoolServiceImpl::DeletePool(grpc::ServerContext* ctx, const v1::DeletePoolRequest* req,
                                         v1::DeletePoolResponse*) {
  absl::StatusOr<std::pair<std::string, std::string>> name = ParsePoolName(req->name());
  if (!name.ok()) return ToGrpc(name.status());
  const PeerCredentials peer = peers_->Lookup(ctx->peer());
  return ToGrpc(arenas_->ChangeCurrent(name->first, [&](const ArenaRecord& a) {
    if (absl::Status st = authz_->Check(peer, a, ArenaAction::kManage); !st.ok()) return st;
    absl::Status st = shm::DeletePool(*a.segment, name->second);
    if (st.ok()) LogInfo("pool_deleted").Kv("arena", name->first).Kv("pool", name->second);
    return st;
  }));
}

}  // namespace shmpool::server
