// Stats of an arena as the API reports them: the segment's own numbers (shm::CollectStats,
// read lock-free while clients allocate), the arena's quota, and per client: each session
// joined, by its process record, with what that process did and holds in the segment
// (shm::CollectClientStats: per size class and per pool). The segment is read through
// ArenaRegistry::WithSegment: a quarantined arena's stats are its name, capacity, quota
// and quarantine only.
#pragma once

#include <vector>

#include "server/core/arena_registry.h"
#include "server/core/session_registry.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::server {

// The status is WithSegment's: FAILED_PRECONDITION when the arena is (or by this read
// becomes) quarantined, and `out` holds the quarantined form then.
absl::Status CollectArenaStats(ArenaRegistry& arenas, const ArenaRecord& arena,
                               const std::vector<SessionInfo>& sessions, v1::ArenaStats* out);

}  // namespace shmpool::server
