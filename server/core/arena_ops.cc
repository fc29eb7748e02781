#include "server/core/arena_ops.h"

#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "server/core/log.h"
#include "shm/purge.h"

namespace shmpool::server {
namespace {

// A refusal of `event` for arena `id`, with why and who asked.
void LogRefused(const char* event, Level level, absl::string_view id, const absl::Status& why,
                const PeerCredentials& caller) {
  LogLine line(level, event);
  line.Kv("arena", id).Kv("reason", why.message());
  if (caller.local)
    line.Kv("pid", caller.pid).Kv("uid", caller.uid);
  else
    line.Kv("peer", caller.address);
}

}  // namespace

ArenaView ArenaOps::View(ArenaPtr a) const {
  const uint32_t live = resolver_->arenas().LiveClients(*a);
  return ArenaView{std::move(a), live};
}

absl::StatusOr<ArenaView> ArenaOps::Create(const PeerCredentials& caller,
                                           const ArenaSpec& req) const {
  ArenaSpec spec = req;
  const absl::Status allowed = resolver_->authz().CheckCreate(caller, spec);
  absl::StatusOr<ArenaPtr> a = allowed.ok() ? resolver_->arenas().Create(spec) : allowed;
  if (!a.ok()) {
    LogRefused("create_arena_refused", Level::kInfo, req.id, a.status(), caller);
    return a.status();
  }
  return ArenaView{*std::move(a), 0};
}

absl::StatusOr<ArenaView> ArenaOps::Get(const PeerCredentials& caller, const ArenaRef& req) const {
  absl::StatusOr<ArenaPtr> a = resolver_->Resolve(caller, req.name, ArenaAction::kRead);
  if (!a.ok()) return a.status();
  return View(*std::move(a));
}

absl::StatusOr<std::vector<ArenaView>> ArenaOps::List(const PeerCredentials& caller,
                                                      const AllArenas&) const {
  absl::StatusOr<std::vector<ArenaPtr>> readable =
      resolver_->ResolveAll(caller, "", ArenaAction::kRead);
  if (!readable.ok()) return readable.status();
  std::vector<ArenaView> out;
  for (ArenaPtr& a : *readable) out.push_back(View(std::move(a)));
  return out;
}

absl::StatusOr<Done> ArenaOps::Delete(const PeerCredentials& caller, const ArenaRef& req) const {
  absl::StatusOr<std::string> id = api::ParseArenaName(req.name);
  if (!id.ok()) return id.status();
  absl::StatusOr<ArenaPtr> a = resolver_->ResolveId(caller, *id, ArenaAction::kManage);
  absl::Status st = a.ok() ? resolver_->arenas().Delete(*id) : a.status();
  if (!st.ok()) {
    LogRefused("delete_arena_refused", Level::kInfo, *id, st, caller);
    return st;
  }
  return Done{};
}

absl::StatusOr<ArenaView> ArenaOps::Reset(const PeerCredentials& caller,
                                          const ArenaRef& req) const {
  absl::StatusOr<ArenaPtr> a = resolver_->Resolve(caller, req.name, ArenaAction::kManage);
  if (!a.ok()) return a.status();
  const std::string id = (*a)->spec.id;
  a = resolver_->arenas().Reset(id);
  if (!a.ok()) {
    LogRefused("reset_arena_failed", Level::kWarning, id, a.status(), caller);
    return a.status();
  }
  return View(*std::move(a));
}

absl::StatusOr<ArenaView> ArenaOps::Update(const PeerCredentials& caller,
                                           const QuotaUpdate& req) const {
  absl::StatusOr<ArenaPtr> a = resolver_->Resolve(caller, req.name, ArenaAction::kManage);
  if (!a.ok()) return a.status();
  if (req.quota.has_value()) {
    const std::string id = (*a)->spec.id;
    a = resolver_->arenas().UpdateQuota(id, *req.quota);
    if (!a.ok()) {
      LogRefused("update_arena_refused", Level::kInfo, id, a.status(), caller);
      return a.status();
    }
  }
  return View(*std::move(a));
}

absl::StatusOr<PurgeReport> ArenaOps::Purge(const PeerCredentials& caller,
                                            const ArenaRef& req) const {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<ArenaPtr>> targets =
      resolver_->ResolveAll(caller, req.name, ArenaAction::kManage);
  if (!targets.ok()) return targets.status();
  const bool one = !Resolver::NamesAll(req.name);
  PurgeReport report;
  for (const ArenaPtr& a : *targets) {
    shm::PurgeResult r;
    absl::Status st =
        resolver_->arenas().WithSegment(*a, [&](const shm::Segment& seg) { r = shm::Purge(seg); });
    if (!st.ok()) {
      if (one) return st;
      continue;  // all arenas: a quarantined one is skipped, the others purged
    }
    ArenaPurged p{.id = a->spec.id,
                  .released_bytes = r.released_bytes,
                  .duration = absl::Nanoseconds(r.nanoseconds),
                  .resident_bytes = a->segment->ResidentBytes()};
    report.released_bytes += p.released_bytes;
    LogInfo("arena_purged")
        .Kv("arena", p.id)
        .Kv("released", p.released_bytes)
        .Kv("ns", r.nanoseconds)
        .Kv("resident", p.resident_bytes);
    report.arenas.push_back(std::move(p));
  }
  report.duration = absl::Now() - start;
  return report;
}

}  // namespace shmpool::server
