// ArenaRegistry: the arenas this daemon serves, each with its segment mapped.
//
// An arena is an id, the spec it was created with (capacity, quota, owner, geometry), its
// segment file <shm-dir>/shmpool.<id>.seg (mapped here with shm::Segment; the daemon never
// attaches a Heap), a sidecar <shm-dir>/shmpool.<id>.meta holding what the segment does not
// (the quota and the file's owner and group: arena_files.h), and the retired generations that
// clients still map. Records are immutable and shared (ArenaPtr): a reset, a quota change or a
// sweep replaces the record, so an RPC that holds the old one keeps a valid mapping.
//
// Two numbers tell arenas apart in time:
//   - ArenaRecord::generation, the record's incarnation in this daemon (unique over the
//     daemon's life; a reset, a delete and re-create, an adoption give a new one). Sessions
//     and the reclaimer use it to notice that the segment they knew was replaced.
//   - the arena's generation (arena_generation(), in the segment header, so it survives a
//     restart): 0 when created, +1 per reset. Clients and operators see this one.
//
// Reset with clients attached (arena_generations.cc has the argument): the next generation
// is a new file, complete before it takes the arena's file name; the old file is renamed
// <name>.retired-<generation>, marked retired in its header, and kept until no live process
// maps it. No block is handed out twice: the generations are different files.
//
// Live clients of an arena = its processes whose record in the current segment is live and
// whose process still runs (this counts clients attached before a daemon restart, and
// clients that attached without the daemon) + sessions still ATTACHING (about to map the
// segment). Delete is refused while that number, or the live processes of a retired
// generation, is not 0.
//
// Quarantine (server/README.md, "Untrusted segments"): every operation of the daemon over
// a current segment runs through WithSegment (segment_guard.h). A fault (corrupt contents,
// a lock held past limits.segment_lock_timeout_ms, a SIGBUS from a truncated file) puts
// the arena's record in QUARANTINED (ArenaRecord::quarantine): from then on WithSegment
// refuses it with FAILED_PRECONDITION without reading the segment, lists show it, and
// only Reset (a fresh, empty generation; the old mapping is dropped unread) and Delete
// end it, or ProbeLocked for a lock timeout once the lock is free. An arena adopted with a
// header that failed its checks is QUARANTINED from the start and never mapped
// (ArenaRecord::segment null, unmapped_path its file): the readers of `segment` check
// `quarantine` first, and no session attaches to it (so the reclaimer never watches it).
//
// INVARIANTS: one record per id; every record's segment file is at SegmentPath(id) and
// every retired generation's at RetiredPath(id, generation); generations are unique across
// the daemon's life (a re-created arena gets a new one); arenas_.size() <=
// limits.max_arenas, except for adopted segments.
// Lock order: ArenaRegistry::mu_ before SessionRegistry's. The reset observer is called
// with mu_ released.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/config.h"
#include "server/core/segment_guard.h"
#include "server/core/session_registry.h"
#include "shm/segment.h"

namespace shmpool::server {

// A generation of an arena that a reset replaced, mapped here until no live process maps
// it; then its file is unlinked.
struct RetiredGeneration {
  uint64_t generation = 0;
  std::string path;
  std::shared_ptr<shm::Segment> segment;
};

struct ArenaRecord {
  ArenaSpec spec;  // geometry filled in from the segment (an unmapped one's: from its .meta)
  std::shared_ptr<shm::Segment> segment;  // null for an arena adopted unmapped (below)
  uint64_t generation = 0;                // the record's incarnation (see the top of this file)
  absl::Time create_time;
  bool adopted = false;
  uid_t uid = 0;  // the segment file's owner and group
  gid_t gid = 0;
  std::vector<RetiredGeneration> retired;  // oldest first
  // The arena's generation: 0 when created, +1 per reset. Read from the header when the
  // daemon created or adopted the segment, never again (the tenant writes the header).
  uint64_t number = 0;
  std::shared_ptr<const QuarantineReason> quarantine;  // null while the segment is trusted
  // The segment file of an arena adopted QUARANTINED without mapping it (its header failed
  // the checks of arena_files.h: nothing of it is read); empty while `segment` is set.
  std::string unmapped_path;

  uint64_t arena_generation() const { return number; }
};
using ArenaPtr = std::shared_ptr<const ArenaRecord>;

// Told when an arena was reset (the session service tells the arena's clients).
class ResetObserver {
 public:
  virtual ~ResetObserver() = default;
  virtual void ArenaReset(const ArenaRecord& fresh) = 0;
};

// A segment file cut short (a tenant's truncate) whose header is sound: extended back to
// its geometry's length (zero pages past the cut, so no process faults on them any more),
// and the reason to adopt it quarantined. nullopt for any other file (left as it is).
std::optional<QuarantineReason> RestoreTruncated(const std::string& path);

// Processes whose record in the segment is live and that still run.
uint32_t LiveProcesses(const shm::Segment& seg);

class ArenaRegistry {
 public:
  ArenaRegistry(std::string shm_dir, Limits limits, SessionRegistry* sessions);
  ~ArenaRegistry();
  ArenaRegistry(const ArenaRegistry&) = delete;
  ArenaRegistry& operator=(const ArenaRegistry&) = delete;

  // Adopts every segment file of shm_dir that the daemon made (arena_files.h: a regular
  // file with the owner, group and mode its .meta gives): mapped when its header has the
  // geometry its .meta records, QUARANTINED when validation fails; QUARANTINED and not
  // mapped, with the .meta's spec, when its header does not pass (a bad magic, another
  // layout version, a geometry other than the .meta's). A .meta without the geometry (an
  // older daemon's) takes the segment's, if the daemon could have created it, and records
  // it. The others are logged; a regular file of the daemon's uid is renamed
  // *.seg.rejected (kept, out of the way), anything else (a symlink, another uid's file) is
  // left in place and makes Create of that name fail. Retired generations that a live
  // process still maps are kept with their arena, the others unlinked. Returns how many
  // arenas were adopted.
  int AdoptExisting() ABSL_LOCKS_EXCLUDED(mu_);
  // A configured arena: kept if adopted (a warning when its capacity differs from the
  // spec), else created.
  absl::Status Ensure(const ArenaSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);

  // RESOURCE_EXHAUSTED past a limit (tenant_limits.h); FAILED_PRECONDITION when a file
  // that is not one of its arenas holds the name.
  absl::StatusOr<ArenaPtr> Create(const ArenaSpec& spec) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ArenaPtr> Get(absl::string_view id) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<ArenaPtr> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // FAILED_PRECONDITION (with the count) while clients are attached to the arena or to one
  // of its retired generations.
  absl::Status Delete(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the quota online (0: none): stored in the segment, where clients enforce it.
  absl::StatusOr<ArenaPtr> UpdateQuota(absl::string_view id, uint64_t quota)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `change` on the arena's current generation with the registry locked: a reset runs
  // wholly before or after it, so what `change` does to the segment (a pool created or
  // deleted) is in the generation that is current afterwards. NOT_FOUND for no such arena.
  // Runs inside an UntrustedScope like WithSegment, with a lock deadline of at most 100 ms
  // (the registry is locked meanwhile); FAILED_PRECONDITION for a quarantined arena.
  absl::Status ChangeCurrent(absl::string_view id,
                             absl::FunctionRef<absl::Status(const ArenaRecord&)> change)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Gives the arena its next generation, empty (same spec, same pools), while clients stay
  // attached; tells the reset observer. The record returned is the new generation's.
  absl::StatusOr<ArenaPtr> Reset(absl::string_view id) ABSL_LOCKS_EXCLUDED(mu_);
  // Unlinks the retired generations that no live process maps; returns how many. A
  // background thread calls it while any is kept.
  int SweepRetired() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `op` over the arena's current segment through RunUntrusted (segment_guard.h),
  // with limits.segment_lock_timeout_ms as its lock deadline unless `deadline` is
  // given. FAILED_PRECONDITION without running `op` when the arena is quarantined; when
  // `op` faults, quarantines the arena and returns FAILED_PRECONDITION naming the fault.
  absl::Status WithSegment(const ArenaRecord& arena,
                           absl::FunctionRef<void(const shm::Segment&)> op,
                           std::optional<std::chrono::milliseconds> deadline = std::nullopt)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Quarantines the arena if `arena` is still its current record and not quarantined yet.
  void Quarantine(const ArenaRecord& arena, const QuarantineReason& why) ABSL_LOCKS_EXCLUDED(mu_);
  // For each arena quarantined by a lock timeout: a purge with a short lock deadline; the
  // quarantine is lifted when it completes (the lock is free again), or becomes the purge's
  // fault. Returns how many were lifted. The reclaimer's audit calls it.
  int ProbeLocked() ABSL_LOCKS_EXCLUDED(mu_);
  std::chrono::milliseconds lock_deadline() const {
    return std::chrono::milliseconds(limits_.segment_lock_timeout_ms);
  }

  // Before any reset; `observer` outlives its registration (nullptr removes it).
  void SetResetObserver(ResetObserver* observer) ABSL_LOCKS_EXCLUDED(mu_);

  uint32_t LiveClients(const ArenaRecord& arena) const;
  std::string SegmentPath(absl::string_view id) const;
  std::string RetiredPath(absl::string_view id, uint64_t generation) const;
  const Limits& limits() const { return limits_; }

 private:
  absl::StatusOr<ArenaPtr> CreateLocked(const ArenaSpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new segment file at `path` for `spec`: geometry, owner, group, mode and quota.
  absl::StatusOr<std::unique_ptr<shm::Segment>> CreateSegment(const ArenaSpec& spec,
                                                              const std::string& path) const;
  // Reset's steps (arena_generations.cc).
  absl::StatusOr<std::unique_ptr<shm::Segment>> CreateNextGeneration(const ArenaRecord& old,
                                                                     const ArenaSpec& spec,
                                                                     const std::string& path) const;
  absl::Status SwapInNextGeneration(const ArenaRecord& old, const std::string& next_path,
                                    std::string* retired_path) const;
  // Adoption of one arena's current segment (arena_adoption.cc); false when not adopted.
  bool AdoptLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adoption of retired files and of a reset's leftovers, after the current segments.
  void AdoptRetiredLocked(const std::vector<std::string>& files) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads what the record keeps of an adopted segment and validates it (shm/validate.h),
  // inside the scope; sets rec->quarantine when it cannot be trusted. A segment restored
  // after a truncation (`truncated`) is quarantined with that reason, not validated.
  void AdmitAdopted(ArenaRecord* rec, const std::optional<QuarantineReason>& truncated) const;
  void QuarantineLocked(const ArenaRecord& arena, const QuarantineReason& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartSweeperLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SweepLoop() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CheckNoClients(const ArenaRecord& arena, absl::string_view verb) const;
  std::string MetaPath(absl::string_view id) const;

  const std::string shm_dir_;
  const Limits limits_;
  SessionRegistry* const sessions_;
  mutable absl::Mutex mu_;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::btree_map<std::string, ArenaPtr> arenas_ ABSL_GUARDED_BY(mu_);
  ResetObserver* observer_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_ ABSL_GUARDED_BY(mu_);  // started at the first retired generation kept
};

}  // namespace shmpool::server
