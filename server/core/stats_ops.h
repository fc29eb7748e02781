// StatsOps: what a stats request reads. Targets: the arenas a GetStats or a WatchStats
// tick covers (a caller reads only the arenas it may: "all" leaves the others out, a named
// one is PERMISSION_DENIED); the transport collects their stats (server/rpc/
// stats_collector.h). SegmentMap: the page map of one arena, read inside the segment
// guard.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/requests.h"
#include "server/core/resolve.h"

namespace shmpool::server {

// A watch's interval: 1s when unset; INVALID_ARGUMENT below 10ms.
absl::StatusOr<absl::Duration> WatchInterval(std::optional<absl::Duration> asked);

class StatsOps {
 public:
  explicit StatsOps(const Resolver* resolver) : resolver_(resolver) {}

  absl::StatusOr<StatsTargets> Targets(const PeerCredentials& caller, const ArenaRef& req) const;
  // INVALID_ARGUMENT for more than 65536 cells; FAILED_PRECONDITION for a quarantined arena.
  absl::StatusOr<SegmentMapView> SegmentMap(const PeerCredentials& caller,
                                            const MapRequest& req) const;

  const Resolver& resolver() const { return *resolver_; }

 private:
  const Resolver* const resolver_;
};

}  // namespace shmpool::server
