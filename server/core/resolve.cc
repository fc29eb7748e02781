#include "server/core/resolve.h"

#include "proto/api/names.h"
#include "server/core/log.h"

namespace shmpool::server {

bool Resolver::NamesAll(absl::string_view name) { return name.empty() || name == api::kAllArenas; }

absl::Status Resolver::Authorise(const PeerCredentials& caller, const ArenaRecord& arena,
                                 ArenaAction action) const {
  absl::Status st = authz_->Check(caller, arena, action);
  if (!st.ok() && action != ArenaAction::kRead)
    LogInfo(action == ArenaAction::kAttach ? "attach_refused" : "manage_refused")
        .Kv("arena", arena.spec.id)
        .Kv("pid", caller.pid)
        .Kv("uid", caller.uid);
  return st;
}

absl::StatusOr<ArenaPtr> Resolver::ResolveId(const PeerCredentials& caller, absl::string_view id,
                                             ArenaAction action) const {
  absl::StatusOr<ArenaPtr> a = arenas_->Get(id);
  if (!a.ok()) return a.status();
  if (absl::Status st = Authorise(caller, **a, action); !st.ok()) return st;
  return a;
}

absl::StatusOr<ArenaPtr> Resolver::Resolve(const PeerCredentials& caller, absl::string_view name,
                                           ArenaAction action) const {
  absl::StatusOr<std::string> id = api::ParseArenaName(name);
  if (!id.ok()) return id.status();
  return ResolveId(caller, *id, action);
}

absl::StatusOr<std::vector<ArenaPtr>> Resolver::ResolveAll(const PeerCredentials& caller,
                                                           absl::string_view name,
                                                           ArenaAction action) const {
  if (!NamesAll(name)) {
    absl::StatusOr<ArenaPtr> one = Resolve(caller, name, action);
    if (!one.ok()) return one.status();
    return std::vector<ArenaPtr>{*std::move(one)};
  }
  if (action == ArenaAction::kRead) return authz_->Readable(caller, arenas_->List());
  if (absl::Status st = authz_->CheckAuthenticated(caller); !st.ok()) return st;
  std::vector<ArenaPtr> out;
  for (ArenaPtr& a : arenas_->List())
    if (authz_->Check(caller, *a, action).ok()) out.push_back(std::move(a));
  return out;
}

absl::Status Resolver::Change(const PeerCredentials& caller, absl::string_view id,
                              ArenaAction action,
                              absl::FunctionRef<absl::Status(const ArenaRecord&)> change) const {
  return arenas_->ChangeCurrent(id, [&](const ArenaRecord& a) {
    if (absl::Status st = Authorise(caller, a, action); !st.ok()) return st;
    return change(a);
  });
}

}  // namespace shmpool::server
