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
//      the record went live (shm::ReleaseAbandonedClaim): it held nothing yet.
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
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/arena_registry.h"
#include "server/session_registry.h"

namespace shmpool::server {

// A client found dead and reclaimed.
struct DeadClient {
  std::string arena_id;
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
  explicit Reclaimer(ArenaRegistry* arenas, absl::Duration audit_interval = absl::Seconds(1));
  ~Reclaimer();
  Reclaimer(const Reclaimer&) = delete;
  Reclaimer& operator=(const Reclaimer&) = delete;

  // Reclaims every live record of every arena whose process is gone; returns how many.
  // Quarantined arenas are skipped; a lock-timeout quarantine is probed (ProbeLocked).
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
    uint64_t generation = 0;
    uint32_t proc_index = 0;
    uint32_t pid = 0;
    uint64_t start_time = 0;
    int pidfd = -1;
    bool stream_ended = false;
    bool exited = false;  // pidfd readable, or the process is gone
  };
  enum class Outcome { kDone, kRetry };

  void Loop();
  void Wake();
  // Reclaims the watched process if its record still names it; kRetry on Unavailable.
  Outcome TryReclaim(const WatchEntry& w, const char* how);
  // True while w's process record is still live (or being reclaimed) and names w's process.
  bool StillNamed(const WatchEntry& w) const;
  Outcome ReclaimIndex(const ArenaRecord& arena, uint32_t index, const char* how);
  // Audit of one arena (inside ArenaRegistry::WithSegment); returns how many it reclaimed.
  int AuditArena(const ArenaRecord& arena, const char* how);
  void Remember(DeadClient d) ABSL_LOCKS_EXCLUDED(mu_);

  ArenaRegistry* const arenas_;
  const absl::Duration audit_interval_;
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
