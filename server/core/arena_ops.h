// ArenaOps: the arena requests (create, get, list, delete, reset, update, purge), each one
// function of (caller, request) to a result or a status. The caller is the transport's
// peer after Resolver::Caller; every arena named goes through the Resolver. Refusals and
// failures that change nothing are logged (event=*_refused, reset_arena_failed).
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "server/core/requests.h"
#include "server/core/resolve.h"

namespace shmpool::server {

class ArenaOps {
 public:
  explicit ArenaOps(const Resolver* resolver) : resolver_(resolver) {}

  // Authz::CheckCreate fills in a non-admin's owner; ArenaRegistry::Create's limits.
  absl::StatusOr<ArenaView> Create(const PeerCredentials& caller, const ArenaSpec& spec) const;
  absl::StatusOr<ArenaView> Get(const PeerCredentials& caller, const ArenaRef& req) const;
  absl::StatusOr<std::vector<ArenaView>> List(const PeerCredentials& caller,
                                              const AllArenas& req) const;
  absl::StatusOr<Done> Delete(const PeerCredentials& caller, const ArenaRef& req) const;
  // Clients stay attached: they are told, and switch to the new generation.
  absl::StatusOr<ArenaView> Reset(const PeerCredentials& caller, const ArenaRef& req) const;
  absl::StatusOr<ArenaView> Update(const PeerCredentials& caller, const QuotaUpdate& req) const;
  // One arena, or every arena the caller may manage; in "all", a quarantined arena is
  // skipped and the others purged.
  absl::StatusOr<PurgeReport> Purge(const PeerCredentials& caller, const ArenaRef& req) const;

  const Resolver& resolver() const { return *resolver_; }

 private:
  ArenaView View(ArenaPtr a) const;

  const Resolver* const resolver_;
};

}  // namespace shmpool::server
