#include "server/core/session_ops.h"

#include "absl/strings/str_format.h"
#include "proto/api/names.h"
#include "server/core/log.h"

namespace shmpool::server {

absl::StatusOr<Attached> SessionOps::Attach(const PeerCredentials& caller,
                                            const AttachRequest& req) const {
  absl::StatusOr<ArenaPtr> arena = resolver_->Resolve(caller, req.arena, ArenaAction::kAttach);
  if (!arena.ok()) return arena.status();
  const std::string& id = (*arena)->spec.id;
  if ((*arena)->quarantine) return QuarantinedError(id, *(*arena)->quarantine);
  absl::StatusOr<SessionInfo> s =
      sessions_->Begin(id, (*arena)->generation, req.client_name, caller);
  if (!s.ok()) return s.status();
  LogInfo("session_attached")
      .Kv("session", s->id)
      .Kv("arena", id)
      .Kv("client", s->client_name)
      .Kv("pid", caller.pid)
      .Kv("uid", caller.uid)
      .Kv("gid", caller.gid)
      .Kv("peer", caller.address);
  return Attached{*std::move(s), *std::move(arena)};
}

absl::StatusOr<SessionInfo> SessionOps::Open(const PeerCredentials& caller,
                                             const StreamOpen& req) const {
  absl::StatusOr<uint64_t> id = api::ParseSessionName(req.session);
  if (!id.ok()) return id.status();
  absl::StatusOr<SessionInfo> s = sessions_->Open(*id, caller, req.proc_index);
  if (!s.ok()) return s.status();
  absl::StatusOr<ArenaPtr> arena = resolver_->arenas().Get(s->arena_id);
  if (!arena.ok() || (*arena)->generation != s->generation) {
    sessions_->End(*id);
    return absl::FailedPreconditionError(
        absl::StrFormat("arena \"%s\" was deleted or reset after session %d attached: attach again",
                        s->arena_id, *id));
  }
  return s;
}

}  // namespace shmpool::server
