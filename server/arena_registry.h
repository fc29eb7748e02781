// ArenaRegistry: the arenas this daemon serves, each with its segment mapped.
//
// An arena is an id, the spec it was created with (capacity, quota, owner, geometry), its
// segment file <shm-dir>/shmpool.<id>.seg (mapped here with shm::Segment; the daemon never
// attaches a Heap), a sidecar <shm-dir>/shmpool.<id>.meta holding what the segment does not
// (the quota), and a generation number. Records are immutable and shared (ArenaPtr): a
// reset replaces the record, so an RPC that holds the old one keeps a valid mapping.
//
// Live clients of an arena = its processes whose record in the segment is live and whose
// process still runs (this counts clients attached before a daemon restart, and clients
// that attached without the daemon) + sessions still ATTACHING (about to map the segment).
// Delete and reset are refused while that number is not 0.
//
// INVARIANTS: one record per id; every record's segment file is at SegmentPath(id);
// generations are unique across the daemon's life (a re-created arena gets a new one);
// arenas_.size() <= limits.max_arenas, except for adopted segments.
// Lock order: ArenaRegistry::mu_ before SessionRegistry's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/config.h"
#include "server/session_registry.h"
#include "shm/segment.h"

namespace shmpool::server {

struct ArenaRecord {
  ArenaSpec spec;  // geometry filled in from the segment
  std::shared_ptr<shm::Segment> segment;
  uint64_t generation = 0;
  absl::Time create_time;
  bool adopted = false;
  uid_t uid = 0;  // the segment file's owner and group
  gid_t gid = 0;
};
using ArenaPtr = std::shared_ptr<const ArenaRecord>;

class ArenaRegistry {
 public:
  ArenaRegistry(std::string shm_dir, Limits limits, SessionRegistry* sessions);

  // Maps every segment file of shm_dir that passes validation; logs the others and renames
  // them to *.seg.rejected (kept, out of the way). Returns how many were adopted.
  int AdoptExisting() ABSL_LOCKS_EXCLUDED(mu_);
  // A configured arena: kept if adopted (a warning when its capacity differs from the
  // spec), else created.
  absl::Status Ensure(const ArenaSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<ArenaPtr> Create(const ArenaSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ArenaPtr> Get(absl::string_view id) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<ArenaPtr> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // FAILED_PRECONDITION (with the count) while clients are attached.
  absl::Status Delete(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the quota online (0: none): stored in the segment, where clients enforce it.
  absl::StatusOr<ArenaPtr> UpdateQuota(absl::string_view id, uint64_t quota)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Recreates the segment empty with the same spec and a new generation.
  absl::StatusOr<ArenaPtr> Reset(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);

  uint32_t LiveClients(const ArenaRecord& arena) const;
  std::string SegmentPath(absl::string_view id) const;
  const Limits& limits() const { return limits_; }

 private:
  absl::StatusOr<ArenaPtr> CreateLocked(const ArenaSpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckNoClients(const ArenaRecord& arena, absl::string_view verb) const;
  std::string MetaPath(absl::string_view id) const;

  const std::string shm_dir_;
  const Limits limits_;
  SessionRegistry* const sessions_;
  mutable absl::Mutex mu_;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::btree_map<std::string, ArenaPtr> arenas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmpool::server
