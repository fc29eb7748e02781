// SessionOps: a client's attach (AttachArena: a new ATTACHING session, and the segment to
// map) and the opening of its session stream (the session goes LIVE). The stream itself,
// its events and its end, is the transport's (server/rpc/session_service.h), which ends
// the session in the SessionRegistry when the stream ends.
#pragma once

#include "absl/status/statusor.h"
#include "server/core/requests.h"
#include "server/core/resolve.h"
#include "server/core/session_registry.h"

namespace shmpool::server {

class SessionOps {
 public:
  SessionOps(const Resolver* resolver, SessionRegistry* sessions)
      : resolver_(resolver), sessions_(sessions) {}

  // PERMISSION_DENIED unless the caller may attach (authz.h); FAILED_PRECONDITION for a
  // quarantined arena; RESOURCE_EXHAUSTED past max_sessions.
  absl::StatusOr<Attached> Attach(const PeerCredentials& caller, const AttachRequest& req) const;
  // The session made LIVE (SessionRegistry::Open); FAILED_PRECONDITION, and the session
  // ended, when its arena was deleted or reset since it attached.
  absl::StatusOr<SessionInfo> Open(const PeerCredentials& caller, const StreamOpen& req) const;

  const Resolver& resolver() const { return *resolver_; }

 private:
  const Resolver* const resolver_;
  SessionRegistry* const sessions_;
};

}  // namespace shmpool::server
