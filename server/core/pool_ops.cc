#include "server/core/pool_ops.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "proto/api/names.h"
#include "server/core/log.h"
#include "server/core/tenant_limits.h"
#include "shm/check.h"

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

// Inside the segment guard: the holders' pids and names are the tenant's to write.
PoolView ReadView(const ArenaRecord& a, const shm::Segment& seg, shm::PoolStats s) {
  PoolView v{.arena_id = a.spec.id};
  for (const shm::PoolProcUsage& u : s.procs) {
    SHMPOOL_CHECK(u.proc < seg.geometry().max_procs);  // read from the segment
    const shm::ProcRecord& r = seg.proc(u.proc);
    v.holders.push_back({.pid = r.pid,
                         .client_name = std::string(r.name, strnlen(r.name, sizeof(r.name))),
                         .held = u.held});
  }
  v.stats = std::move(s);
  return v;
}

}  // namespace

absl::StatusOr<PoolView> PoolOps::Create(const PeerCredentials& caller,
                                         const PoolCreate& req) const {
  absl::StatusOr<std::string> id = api::ParseArenaName(req.arena);
  if (!id.ok()) return id.status();
  if (absl::Status st = CheckPoolId(req.spec.name); !st.ok()) return st;
  ArenaRegistry& arenas = resolver_->arenas();
  absl::MutexLock lock(&create_mu_);
  const std::vector<ArenaPtr> all = arenas.List();
  PoolView out;
  absl::Status created =
      resolver_->Change(caller, *id, ArenaAction::kManage, [&](const ArenaRecord& a) {
        if (absl::Status st = CheckPoolLimit(arenas.limits(), a.uid, all); !st.ok()) return st;
        absl::StatusOr<uint32_t> slot = shm::CreatePool(*a.segment, req.spec);
        if (!slot.ok()) return slot.status();
        LogInfo("pool_created")
            .Kv("arena", *id)
            .Kv("pool", req.spec.name)
            .Kv("object_size", req.spec.object_size)
            .Kv("count", req.spec.count);
        for (shm::PoolStats& s : shm::ListPools(*a.segment))
          if (s.slot == *slot) out = ReadView(a, *a.segment, std::move(s));
        return absl::OkStatus();
      });
  if (!created.ok()) return created;
  return out;
}

absl::StatusOr<std::vector<PoolView>> PoolOps::List(const PeerCredentials& caller,
                                                    const ArenaRef& req) const {
  absl::StatusOr<std::vector<ArenaPtr>> targets =
      resolver_->ResolveAll(caller, req.name, ArenaAction::kRead);
  if (!targets.ok()) return targets.status();
  const bool one = !Resolver::NamesAll(req.name);
  std::vector<PoolView> out;
  for (const ArenaPtr& a : *targets) {
    std::vector<PoolView> read;
    absl::Status st = resolver_->arenas().WithSegment(*a, [&](const shm::Segment& seg) {
      for (shm::PoolStats& s : shm::ListPools(seg)) read.push_back(ReadView(*a, seg, std::move(s)));
    });
    if (!st.ok()) {
      if (one) return st;
      continue;  // all arenas: a quarantined one is skipped
    }
    for (PoolView& v : read) out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<Done> PoolOps::Delete(const PeerCredentials& caller, const PoolRef& req) const {
  absl::StatusOr<std::pair<std::string, std::string>> name = ParsePoolName(req.name);
  if (!name.ok()) return name.status();
  absl::Status deleted =
      resolver_->Change(caller, name->first, ArenaAction::kManage, [&](const ArenaRecord& a) {
        absl::Status st = shm::DeletePool(*a.segment, name->second);
        if (st.ok()) LogInfo("pool_deleted").Kv("arena", name->first).Kv("pool", name->second);
        return st;
      });
  if (!deleted.ok()) return deleted;
  return Done{};
}

}  // namespace shmpool::server
