// The Prometheus text exposition (format 0.0.4) of the daemon's stats: what /metrics
// serves. A pure function of a GetStatsResponse, so the names are tested without a server.
//
// The families are the (stat) declarations of proto/shmpool/v1/stats.proto, read from the
// descriptor: a field declared there is exported with its name, type and help, and an
// unset field (an undefined ratio) has no sample. Names follow Prometheus conventions:
// prefix shmpool_, base units (bytes, seconds), counters end in _total. Label sets: per
// arena (arena="ID"), per size class (arena, class, size), per client (arena, client: the
// name a client gives at attach, its sessions summed, so the series are bounded by the
// names in use), per client and class (and class, size) or client and pool (and pool); and
// shmpool_build_info{version}, shmpool_arena_quarantined{arena, reason}. Every family has
// its # HELP and # TYPE lines, once, before its samples, with or without samples.
#pragma once

#include <string>

#include "shmpool/v1/stats.pb.h"

namespace shmpool::server {

struct MetricsOptions {
  bool per_client = true;  // the shmpool_client_* series ([metrics] per_client)
  std::string version;     // shmpool_build_info's version label
};

std::string FormatMetrics(const v1::GetStatsResponse& stats, const MetricsOptions& options = {});

// A label value escaped for the text format (backslash, double quote, newline).
std::string EscapeLabel(const std::string& value);

}  // namespace shmpool::server
