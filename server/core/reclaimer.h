// Reclaimer: finds dead clients and returns what they held inside their segment
// (shm::ReclaimProcess), while every other client keeps allocating.
//
// A client is found dead three ways:
//   1. its session stream ends without a detach (its process record is still live): the
//      process is exiting or gone; its pidfd (below) says when it is gone for good;
//   2. a pidfd: when a session goes LIVE the daemon opens pidfd_open(SO_PEERCRED pid) and
//      checks, after opening it, that the process record's (pid, start time) still names a
//      running process: so the pidfd is that process and not a later one that reused the
//      pid. The reclaimer thread polls every pidfd; readable = the process has exited;
//   3. an audit: at start (adoption) and every audit_interval, every process record that
//      is live but whose process is gone (shm::ProcessIsDead) is reclaimed, and so is every
//      record left kDead: a reclaim that a killed daemon began, which resumes where it
//      stopped (shm/recovery.h). This covers clients attached before a daemon restart,
//      clients that mapped the segment directly, and the daemon's own death mid-reclaim.
//      The audit also frees a record whose claimant was killed inside its attach, before
//      the record went live (shm::ReleaseAbandonedClaim): it held nothing yet, and finishes
//      the step of every purger that was killed mid-purge (shm::ReclaimDeadPurgers).
//      A record a pidfd watches (in the incarnation watched) is not probed by the audit:
//      its pidfd reports the exit, so the audit's probes (kill and /proc reads) are of
//      the records no pidfd covers (clients that mapped the segment directly, TCP peers,
//      clients from before a restart), not of every attached client every second.
// Every segment of an arena is covered: the current one and each retired generation that
// clients still map (a client attached across a reset holds a record in both). A watch
// keeps the segment its record is in, so a reset does not end it.
// A reclaim is of one incarnation of a record (layout.h: ProcRecord): the word the verdict
// read (a watch's from when the session went live), which shm::ReclaimProcess turns kDead
// by a CAS. A record detached and claimed again since is left alone (Aborted, logged as
// reclaim_dropped).
// A dead process's blocks that it had allocated stay allocated (they are the
// application's); each reclaim is logged (event=dead_client_reclaimed) and kept in a short
// history (DeadClients) so stats and session output can say that they belonged to a dead
// client.
//
// INVARIANTS: only the reclaimer thread (or Audit before the thread starts) calls
// ReclaimProcess, so two reclaims of one segment never run at once; a watch is dropped once
// its record no longer names its process (detached, or reclaimed); every pidfd in
// watches_ is open and closed exactly once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/arena_registry.h"
#include "server/core/clock.h"
#include "server/core/process_prober.h"
#include "server/core/session_registry.h"

namespace shmpool::server {

// A client found dead and reclaimed.
struct DeadClient {
  std::string arena_id;
  uint64_t generation = 0;  // the arena generation of the segment its record was in
  uint32_t pid = 0;
  uint32_t proc_index = 0;
  std::string name;  // the process record's name
  std::string how;   // "pidfd", "stream_end", "audit"
  absl::Time reclaimed_at;
  uint32_t caches = 0;           // thread caches reclaimed
  uint64_t blocks_returned = 0;  // free blocks it had cached, back to the slabs
  int64_t allocated_bytes = 0;   // net bytes handed out through its caches, not freed
};

class Reclaimer final : public SessionObserver {
 public:
  // `prober` gives the verdicts (a process is reclaimed only when it says kGone), `clock`
  // the audit schedule and the reclaim times; both outlive the reclaimer.
  explicit Reclaimer(ArenaRegistry* arenas, absl::Duration audit_interval = absl::Seconds(1),
                     const ProcessProber& prober = KernelProber(),
                     const Clock& clock = SystemClock());
  ~Reclaimer();
  Reclaimer(const Reclaimer&) = delete;
  Reclaimer& operator=(const Reclaimer&) = delete;

  // Reclaims every live record whose process is gone, in every segment of every arena
  // (current and retired generations); returns how many. Quarantined arenas are skipped; a
  // lock-timeout quarantine is probed (ArenaRegistry::ProbeLocked).
  // Before Start() (daemon start-up), or from the reclaimer thread.
  int Audit(const char* how = "audit") ABSL_LOCKS_EXCLUDED(mu_);
  void Start();
  void Stop();

  // A session went LIVE: watch its process through a pidfd.
  void Watch(const SessionInfo& s) override ABSL_LOCKS_EXCLUDED(mu_);
  // A session's stream ended: if the client did not detach, reclaim it as soon as its
  // process is gone.
  void StreamEnded(const SessionInfo& s) override ABSL_LOCKS_EXCLUDED(mu_);

  // The most recent reclaims (oldest first), of one arena or of all.
  std::vector<DeadClient> DeadClients(const std::string& arena_id) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct WatchEntry {
    std::string arena_id;
    std::shared_ptr<const shm::Segment> segment;  // the segment the record is in
    uint32_t proc_index = 0;
    uint64_t word = 0;  // the record's word (state and incarnation) when the session went live
    uint32_t pid = 0;
    uint64_t start_time = 0;
    int pidfd = -1;
    bool stream_ended = false;
    bool exited = false;  // pidfd readable, or the process is gone
  };
  // kDropped: the record changed since the verdict, so nothing was reclaimed.
  enum class Outcome { kDone, kRetry, kDropped };

  void Loop();
  void Wake();
  // Reclaims the watched process if its record still names it; kRetry on Unavailable.
  Outcome TryReclaim(const WatchEntry& w, const char* how);
  // True while w's process record is still live (or being reclaimed) in w's incarnation.
  bool StillNamed(const WatchEntry& w) const;
  // The records whose process a pidfd watches: (segment, index) -> the record's word when
  // the watch began. From the thread's watches and the pending ones.
  using Covered = absl::flat_hash_map<std::pair<const shm::Segment*, uint32_t>, uint64_t>;
  Covered PidfdCovered() const ABSL_LOCKS_EXCLUDED(mu_);
  // The audit of one segment of arena `arena_id` (inside ArenaRegistry::WithSegment or
  // RunUntrusted); returns the records reclaimed. Records in `covered` (in the word there)
  // are left to their pidfds.
  int AuditSegment(const std::string& arena_id, const shm::Segment& seg, const char* how,
                   const Covered& covered);
  // True, with the word the verdict is about, when record `index` of `seg` is live and the
  // prober says its process is gone.
  bool ProcessIsDead(const shm::Segment& seg, uint32_t index, uint64_t* word) const;
  // Reclaims the incarnation `word` of record `index` of `seg`.
  Outcome ReclaimIndex(const std::string& arena_id, const shm::Segment& seg, uint32_t index,
                       uint64_t word, const char* how);
  void Remember(DeadClient d) ABSL_LOCKS_EXCLUDED(mu_);

  ArenaRegistry* const arenas_;
  const absl::Duration audit_interval_;
  const ProcessProber& prober_;
  const Clock& clock_;
  int wake_fd_ = -1;  // eventfd: Watch/StreamEnded/Stop wake the poll
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<WatchEntry> pending_ ABSL_GUARDED_BY(mu_);  // new watches for the thread
  std::vector<WatchEntry> ended_ ABSL_GUARDED_BY(mu_);    // streams that ended, for the thread
  std::deque<DeadClient> history_ ABSL_GUARDED_BY(mu_);
  // Owned by the reclaimer thread only.
  std::vector<WatchEntry> watches_;
};

}  // namespace shmpool::server
