#include "server/core/tenant_limits.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/api/size.h"
#include "shm/pool.h"

namespace shmpool::server {
namespace {

bool Exempt(uid_t uid) { return uid == 0 || uid == geteuid(); }

absl::Status Exhausted(absl::string_view limit, const std::string& value, uid_t uid,
                       const std::string& use) {
  return absl::ResourceExhaustedError(
      absl::StrFormat("limits.%s = %s: uid %d has %s", limit, value, uid, use));
}

}  // namespace

TenantUse UseOf(uid_t uid, const std::vector<ArenaPtr>& arenas) {
  TenantUse u;
  for (const ArenaPtr& a : arenas) {
    if (a->uid != uid) continue;
    ++u.arenas;
    u.capacity += a->spec.capacity;
    // A quarantined segment is not read (its pools are not counted).
    if (!a->quarantine) u.pools += static_cast<uint32_t>(shm::ListPools(*a->segment).size());
  }
  return u;
}

absl::Status CheckArenaLimits(const Limits& limits, uid_t owner, uint64_t capacity,
                              const std::vector<ArenaPtr>& arenas) {
  uint64_t total = 0;
  for (const ArenaPtr& a : arenas) total += a->spec.capacity;
  if (total + capacity > limits.max_total_capacity)
    return absl::ResourceExhaustedError(absl::StrFormat(
        "limits.max_total_capacity = %s: the daemon's arenas have %s, %s more does not fit",
        api::FormatSize(limits.max_total_capacity), api::FormatSize(total),
        api::FormatSize(capacity)));
  if (Exempt(owner)) return absl::OkStatus();
  const TenantUse u = UseOf(owner, arenas);
  if (u.arenas + 1 > limits.max_arenas_per_uid)
    return Exhausted("max_arenas_per_uid", absl::StrCat(limits.max_arenas_per_uid), owner,
                     absl::StrFormat("%d arena%s", u.arenas, u.arenas == 1 ? "" : "s"));
  if (u.capacity + capacity > limits.max_capacity_per_uid)
    return Exhausted("max_capacity_per_uid", api::FormatSize(limits.max_capacity_per_uid), owner,
                     absl::StrFormat("%s in its arenas, %s more does not fit",
                                     api::FormatSize(u.capacity), api::FormatSize(capacity)));
  return absl::OkStatus();
}

absl::Status CheckPoolLimit(const Limits& limits, uid_t owner,
                            const std::vector<ArenaPtr>& arenas) {
  if (Exempt(owner)) return absl::OkStatus();
  const TenantUse u = UseOf(owner, arenas);
  if (u.pools + 1 > limits.max_pools_per_uid)
    return Exhausted("max_pools_per_uid", absl::StrCat(limits.max_pools_per_uid), owner,
                     absl::StrFormat("%d pool%s in its arenas", u.pools, u.pools == 1 ? "" : "s"));
  return absl::OkStatus();
}

}  // namespace shmpool::server
