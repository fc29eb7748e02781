// Limits per tenant uid ([limits] in the config), checked when an arena or a pool is
// created. A tenant's use is counted over the arenas it owns (ArenaRecord::uid, the owner
// of the segment file): their number, their capacities added up, and their pools. Root and
// the daemon's own uid are not held to the per-uid limits; the daemon-wide ones
// (max_arenas, max_total_capacity) hold for every caller, so the per-uid limits are what
// keeps room for root (max_total_capacity stays below the daemon's address space).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "server/core/arena_registry.h"
#include "server/core/config.h"

namespace shmpool::server {

struct TenantUse {
  uint32_t arenas = 0;
  uint64_t capacity = 0;
  uint32_t pools = 0;
};

// What `uid` owns among `arenas`.
TenantUse UseOf(uid_t uid, const std::vector<ArenaPtr>& arenas);

// OK, or RESOURCE_EXHAUSTED naming the limit, its value and the current use, for a new
// arena of `capacity` bytes owned by `owner` next to `arenas`.
absl::Status CheckArenaLimits(const Limits& limits, uid_t owner, uint64_t capacity,
                              const std::vector<ArenaPtr>& arenas);
// Likewise for a new pool in an arena owned by `owner`.
absl::Status CheckPoolLimit(const Limits& limits, uid_t owner, const std::vector<ArenaPtr>& arenas);

}  // namespace shmpool::server
