// Stats of an arena as the API reports them: the segment's own numbers (shm::CollectStats,
// read lock-free while clients allocate), the arena's quota, and per client: each session
// joined, by its process record, with what that process did and holds in the segment
// (shm::CollectClientStats: per size class and per pool).
#pragma once

#include <vector>

#include "server/arena_registry.h"
#include "server/session_registry.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::server {

void CollectArenaStats(const ArenaRecord& arena, const std::vector<SessionInfo>& sessions,
                       v1::ArenaStats* out);

}  // namespace shmpool::server
