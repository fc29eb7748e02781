// The Prometheus text exposition (format 0.0.4) of the daemon's stats: what /metrics
// serves. A pure function of a GetStatsResponse, so the names are tested without a server.
//
// Names follow Prometheus conventions: prefix shmpool_, base units (bytes, seconds),
// counters end in _total, one label set per arena (arena="ID"), per size class
// (arena, class, size), per client session (arena, session, client, pid, uid), and per
// client and class (those labels and class, size) or client and pool (and pool). Every
// family has its # HELP and # TYPE lines, once, before its samples.
#pragma once

#include <string>

#include "shmpool/v1/stats.pb.h"

namespace shmpool::server {

std::string FormatMetrics(const v1::GetStatsResponse& stats);

// A label value escaped for the text format (backslash, double quote, newline).
std::string EscapeLabel(const std::string& value);

}  // namespace shmpool::server
