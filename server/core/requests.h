// The core's requests and results: what the RPCs ask of the core and what it answers, in
// the daemon's own types (no protobuf). server/rpc/ converts the API's messages to and from
// these (server/rpc/ops_convert.h); tests build them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/core/arena_registry.h"
#include "server/core/session_registry.h"
#include "shm/pool.h"
#include "shm/slab_map.h"

namespace shmpool::server {

// A request that names one arena ("arenas/{id}"), or all ("", "arenas/-") where allowed.
struct ArenaRef {
  std::string name;
};
// A request over every arena the caller may read.
struct AllArenas {};
// The answer of a request that answers nothing but OK.
struct Done {};

struct QuotaUpdate {
  std::string name;
  std::optional<uint64_t> quota;  // unset: nothing changes (0 is "no quota")
};

// An arena as a request answers it: the record and its live clients (ArenaRegistry).
struct ArenaView {
  ArenaPtr arena;
  uint32_t live_clients = 0;
};

struct ArenaPurged {
  std::string id;
  uint64_t released_bytes = 0;
  absl::Duration duration;
  uint64_t resident_bytes = 0;
};
// INVARIANT: released_bytes is the sum of arenas' released_bytes.
struct PurgeReport {
  std::vector<ArenaPurged> arenas;
  uint64_t released_bytes = 0;
  absl::Duration duration;
};

struct PoolCreate {
  std::string arena;   // "arenas/{id}"
  shm::PoolSpec spec;  // spec.name: the pool id
};
// "arenas/{arena}/pools/{pool}".
struct PoolRef {
  std::string name;
};
// A process holding objects of a pool, read from the segment's process record.
struct PoolHolder {
  uint32_t pid = 0;
  std::string client_name;
  int64_t held = 0;  // gets - puts through its caches
};
// A pool as read inside the segment guard: nothing of it is read from the segment later.
struct PoolView {
  std::string arena_id;
  shm::PoolStats stats;
  std::vector<PoolHolder> holders;
};

struct AttachRequest {
  std::string arena;
  std::string client_name;
};
struct Attached {
  SessionInfo session;
  ArenaPtr arena;
};
struct StreamOpen {
  std::string session;  // "sessions/{id}"
  int32_t proc_index = -1;
};

struct MapRequest {
  std::string name;
  uint32_t cells = 0;  // 0: 1024
};
// INVARIANT: cells.size() <= the cells asked for; each cell covers pages_per_cell pages.
struct SegmentMapView {
  std::string id;
  shm::SegmentMap map;
  uint64_t pages_per_cell = 0;
  std::vector<shm::MapCell> cells;
};

// The arenas a stats request reads; `one`: it named one arena (whose read errors are the
// request's), else it named all (a quarantined arena is listed with its quarantine).
struct StatsTargets {
  std::vector<ArenaPtr> arenas;
  bool one = false;
};

}  // namespace shmpool::server
