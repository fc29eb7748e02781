// Resolver: what every arena-scoped request does first, in one place. It turns the
// transport's peer into the caller's credentials (PeerTable), a resource name into the
// arena (api::ParseArenaName, ArenaRegistry::Get), and checks that the caller may do the
// action to it (Authz). The RPC adapters (server/rpc/) and the core's operations
// (*_ops.h) go through it, so a refusal reads the same whichever request met it.
//
// Order of the checks, and so which error a request gets: an unparsable name is
// INVALID_ARGUMENT, then an arena that does not exist NOT_FOUND, then a caller that may
// not act on it PERMISSION_DENIED (or UNAUTHENTICATED: authz.h). A refused attach or
// manage is logged (event=attach_refused, manage_refused) with the caller's pid and uid.
#pragma once

#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/peer_table.h"

namespace shmpool::server {

class Resolver {
 public:
  Resolver(ArenaRegistry* arenas, const PeerTable* peers, const Authz* authz)
      : arenas_(arenas), peers_(peers), authz_(authz) {}

  // The credentials of the transport's peer ("fd:N" for a Unix connection: PeerTable).
  PeerCredentials Caller(absl::string_view peer) const { return peers_->Lookup(peer); }

  // The arena "arenas/{id}" names, if `caller` may do `action` to it.
  absl::StatusOr<ArenaPtr> Resolve(const PeerCredentials& caller, absl::string_view name,
                                   ArenaAction action) const;
  // As Resolve for an arena id already parsed.
  absl::StatusOr<ArenaPtr> ResolveId(const PeerCredentials& caller, absl::string_view id,
                                     ArenaAction action) const;
  // "" and "arenas/-": every arena `caller` may do `action` to, in id order (none left out
  // is an error, but an unauthenticated peer is UNAUTHENTICATED); any other name: Resolve's
  // one arena.
  absl::StatusOr<std::vector<ArenaPtr>> ResolveAll(const PeerCredentials& caller,
                                                   absl::string_view name,
                                                   ArenaAction action) const;
  // Runs `change` on arena `id`'s current generation (ArenaRegistry::ChangeCurrent) if
  // `caller` may do `action` to that generation's record: checked under the registry's
  // lock, so no reset or re-create comes between the check and the change.
  absl::Status Change(const PeerCredentials& caller, absl::string_view id, ArenaAction action,
                      absl::FunctionRef<absl::Status(const ArenaRecord&)> change) const;

  // True for "" and "arenas/-", the names that stand for every arena.
  static bool NamesAll(absl::string_view name);

  ArenaRegistry& arenas() const { return *arenas_; }
  const Authz& authz() const { return *authz_; }

 private:
  absl::Status Authorise(const PeerCredentials& caller, const ArenaRecord& arena,
                         ArenaAction action) const;

  ArenaRegistry* const arenas_;
  const PeerTable* const peers_;
  const Authz* const authz_;
};

}  // namespace shmpool::server
