// Doctor: reads an arena's stats and says in plain sentences, with the numbers, what is
// wrong and what to do (like Redis' MEMORY DOCTOR). A pure function over the stats message,
// so each check is tested with constructed stats (doctor_test.cc).
//
// Checks, each with a threshold in DoctorThresholds:
//   implausible    figures no arena can show (a counter past 2^60, an amount of memory
//                  larger than the segment): flagged, and the findings on them left out
//   fragmentation  the external fragmentation `stats` prints (1 - allocated / active); a
//                  purge is recommended only while free slab pages are still resident and
//                  no purge ended within fresh_purge_seconds (last_purge_time)
//   empty classes  size classes whose slabs are mostly empty
//   quota          committed bytes (what the quota limits) close to the quota, or refusals
//   dead clients   process records live in the segment with no open session
//   caches         thread caches and transfer rings hoarding free blocks
//   purgeable      resident memory that a purge would return (free, backed pages), unless a
//                  purge is fresh
//   errors         failed allocations, invalid and double frees
// and, over the arena's object pools (ListPools):
//   pool sizes     a pool that never had more than a small share of its objects out
//                  (in use or cached) at once, or was never used: it could be smaller
//   pool ran dry   a pool whose central stack was empty at least once (a Get could return
//                  NULL), with who holds its objects
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "shmpool/v1/pool.pb.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::ctl {

struct DoctorThresholds {
  double fragmentation = 0.5;            // external fragmentation above this is reported
  uint64_t min_active = 4ull << 20;      // ... when the arena has at least this many active bytes
  double class_fill = 0.25;              // a class whose slabs are filled below this
  uint64_t min_class_active = 1 << 20;   // ... and hold at least this much
  double quota = 0.9;                    // usage above this share of the quota
  double cache_share = 0.25;             // caches holding more than this share of allocated
  uint64_t min_cached = 8ull << 20;      // ... and at least this much
  double purgeable_share = 0.2;          // purgeable bytes above this share of resident
  uint64_t min_purgeable = 16ull << 20;  // ... and at least this much
  double pool_peak = 0.5;                // a pool whose peak use stayed below this share
  uint64_t min_pool_bytes = 1ull << 20;  // ... and whose run is at least this large
  double fresh_purge_seconds = 300;      // a purge that ended this recently is fresh: no
                                         // purge is recommended (it would return little)
  double stranded = 0.01;                // failed allocations with reclaimable above this
                                         // share of capacity: stranded, not full
};

struct Finding {
  enum Severity { kInfo, kWarning, kCritical };
  Severity severity = kInfo;
  std::string check;  // a short name: "fragmentation", "quota", ... (its JSON "code")
  std::string text;   // what is wrong and what to do, with the numbers
};

// Bytes a purge would return now: free page runs that are still backed, plus what sits in
// the transfer rings (purge drains them).
uint64_t PurgeableBytes(const v1::ArenaStats& s);

// The findings for one arena read at `now`, most severe first; empty when all is well.
std::vector<Finding> Diagnose(const v1::ArenaStats& s, const DoctorThresholds& t = {},
                              absl::Time now = absl::Now());

// The findings for an arena's object pools, most severe first.
std::vector<Finding> DiagnosePools(const std::vector<v1::Pool>& pools,
                                   const DoctorThresholds& t = {});

// The report printed by `shmpoolctl doctor`: one paragraph per arena, its pools' findings
// (`pools`: every pool of those arenas) after its own.
std::string DoctorReport(const v1::GetStatsResponse& stats, const v1::ListPoolsResponse& pools = {},
                         const DoctorThresholds& t = {});

// The same findings for `shmpoolctl doctor --json`: one JSON object
//   {"arenas":[{"name":..., "allocated_bytes":N, "active_bytes":N, "resident_bytes":N,
//               "capacity_bytes":N,
//               "findings":[{"severity":"critical|warning|info", "code":CHECK,
//                            "message":TEXT}, ...]}, ...]}
// with each arena's findings in the report's order (an empty array when all is well).
std::string DoctorJson(const v1::GetStatsResponse& stats, const v1::ListPoolsResponse& pools = {},
                       const DoctorThresholds& t = {});

}  // namespace shmpool::ctl
