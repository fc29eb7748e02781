// Background purge: the daemon returns free memory to the OS by itself, under two policies
// (on-demand purge is the PurgeArena RPC):
//
//   decay     an arena's dirty bytes that have stayed above zero for its decay time are
//             purged, like jemalloc's dirty_decay_ms. Dirty: free pages still backed, full
//             batches parked in transfer rings, and the whole pages' worth by which the
//             resident free bytes inside slabs grew since the arena's last purge (an upper
//             bound of the pages a purge would park, slab_park.h; what a purge leaves there
//             shares pages with live blocks and becomes the new baseline, so it does not
//             trigger purge after purge). Per arena ([[arena]] decay_ms), else the default
//             ([purge] decay_ms or --decay-ms); -1 never, 0 at the next look. A purge
//             also returns what was freed since the dirt that triggered it; the clock
//             restarts once an arena is clean.
//   pressure  when the shm directory's free space (statvfs) falls below [purge] min_free,
//             or the arenas' resident bytes exceed [purge] memory_limit (or
//             --memory-limit), every arena with dirty bytes is purged, dirtiest first,
//             until the condition clears.
//
// PurgeDecider is the decision alone, a pure function of what it is shown and the time
// (tested with a fake clock); PurgePolicy runs it on a daemon thread every interval_ms
// and purges through shm::Purge, which is safe while clients allocate. Every purge is
// counted in the segment's stats (purge_count, purged, purge_time) and logged with its
// reason.
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/core/arena_registry.h"
#include "server/core/config.h"

namespace shmpool::server {

// What the decider sees of one arena at one look.
struct ArenaLook {
  std::string id;
  uint64_t dirty = 0;      // backed free pages and ring batches: bytes a purge returns
  uint64_t resident = 0;   // st_blocks bytes of the segment
  uint64_t slab_free = 0;  // resident bytes of free blocks inside slabs (some parkable)
};

struct PurgeOrder {
  enum Reason { kDecay, kMemoryLimit, kLowDiskSpace };
  std::string id;
  Reason reason;
};
const char* ReasonName(PurgeOrder::Reason r);

// Decides which arenas to purge. Not thread-safe: one caller (the policy thread).
class PurgeDecider {
 public:
  explicit PurgeDecider(PurgeConfig config, absl::flat_hash_map<std::string, int64_t> decay_ms)
      : config_(config), decay_ms_(std::move(decay_ms)) {}

  // `fs_free`: bytes free in the shm directory (UINT64_MAX when unknown).
  std::vector<PurgeOrder> Decide(absl::Time now, const std::vector<ArenaLook>& arenas,
                                 uint64_t fs_free);
  int64_t DecayMsOf(const std::string& id) const;

 private:
  // The look's dirty bytes, slab growth included; updates the arena's slab baseline.
  uint64_t DirtyOf(const ArenaLook& a);

  PurgeConfig config_;
  absl::flat_hash_map<std::string, int64_t> decay_ms_;        // per arena
  absl::flat_hash_map<std::string, absl::Time> dirty_since_;  // first look that saw dirt
  // Per arena: slab_free after its last purge, lowered by reuse (kRebase: purge ordered,
  // take the next look's). An arena not seen before has baseline 0.
  static constexpr uint64_t kRebase = ~uint64_t{0};
  absl::flat_hash_map<std::string, uint64_t> slab_base_;
};

class PurgePolicy {
 public:
  PurgePolicy(ArenaRegistry* arenas, const Config& config);
  ~PurgePolicy() { Stop(); }
  PurgePolicy(const PurgePolicy&) = delete;
  PurgePolicy& operator=(const PurgePolicy&) = delete;

  // True when any policy is configured (the thread runs only then).
  bool enabled() const;
  void Start();
  void Stop();

 private:
  void Run();
  void LookOnce();

  ArenaRegistry* const arenas_;
  const std::string shm_dir_;
  const PurgeConfig config_;
  PurgeDecider decider_;
  bool any_decay_ = false;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace shmpool::server
