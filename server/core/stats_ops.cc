#include "server/core/stats_ops.h"

namespace shmpool::server {

absl::StatusOr<absl::Duration> WatchInterval(std::optional<absl::Duration> asked) {
  const absl::Duration interval = asked.value_or(absl::Seconds(1));
  if (interval < absl::Milliseconds(10))
    return absl::InvalidArgumentError("interval must be at least 10ms (or unset for 1s)");
  return interval;
}

absl::StatusOr<StatsTargets> StatsOps::Targets(const PeerCredentials& caller,
                                               const ArenaRef& req) const {
  absl::StatusOr<std::vector<ArenaPtr>> arenas =
      resolver_->ResolveAll(caller, req.name, ArenaAction::kRead);
  if (!arenas.ok()) return arenas.status();
  return StatsTargets{*std::move(arenas), !Resolver::NamesAll(req.name)};
}

absl::StatusOr<SegmentMapView> StatsOps::SegmentMap(const PeerCredentials& caller,
                                                    const MapRequest& req) const {
  absl::StatusOr<ArenaPtr> a = resolver_->Resolve(caller, req.name, ArenaAction::kRead);
  if (!a.ok()) return a.status();
  const uint32_t cells = req.cells ? req.cells : 1024;
  if (cells > 65536) return absl::InvalidArgumentError("cells must be at most 65536");
  SegmentMapView view{.id = (*a)->spec.id};
  if (absl::Status st = resolver_->arenas().WithSegment(
          **a,
          [&](const shm::Segment& seg) {
            view.map = shm::ReadSegmentMap(seg);
            view.cells = shm::MapCells(view.map, cells, &view.pages_per_cell);
          });
      !st.ok())
    return st;
  return view;
}

}  // namespace shmpool::server
