// PoolOps: the pool requests (create, list, delete) over the object pools of an arena
// (shm/pool.h). Pools live in the arena's segment; the daemon only creates and deletes
// them, one at a time and never during a reset (Resolver::Change), and reads their
// counters. Clients get and put objects without it.
#pragma once

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/core/requests.h"
#include "server/core/resolve.h"

namespace shmpool::server {

class PoolOps {
 public:
  explicit PoolOps(const Resolver* resolver) : resolver_(resolver) {}

  // INVALID_ARGUMENT for a bad pool id; RESOURCE_EXHAUSTED past the per-uid pool limit
  // (tenant_limits.h); shm::CreatePool's errors.
  absl::StatusOr<PoolView> Create(const PeerCredentials& caller, const PoolCreate& req) const
      ABSL_LOCKS_EXCLUDED(create_mu_);
  // The pools of one arena, or of every arena the caller may read (a quarantined one is
  // skipped then).
  absl::StatusOr<std::vector<PoolView>> List(const PeerCredentials& caller,
                                             const ArenaRef& req) const;
  absl::StatusOr<Done> Delete(const PeerCredentials& caller, const PoolRef& req) const;

  const Resolver& resolver() const { return *resolver_; }

 private:
  const Resolver* const resolver_;
  // Held by Create: one create at a time, so the per-uid pool count it checks is exact.
  mutable absl::Mutex create_mu_;
};

}  // namespace shmpool::server
