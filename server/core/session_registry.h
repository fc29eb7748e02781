// SessionRegistry: the clients attached through this daemon.
//
// A session starts ATTACHING when AttachArena answers (the client is about to map the
// segment), becomes LIVE when the client opens its StreamSession, and is removed when that
// stream ends (detach, exit, crash or lost connection). Each session records the peer's
// credentials (from SO_PEERCRED, never from the request), the arena and the arena's
// generation at attach time (a reset or a delete and re-create changes it), so a stream
// opened for an arena that has since been replaced is refused.
//
// INVARIANTS: ids are unique and never reused; a LIVE session has proc_index >= 0;
// sessions_.size() <= max_sessions. An ATTACHING session whose stream is not opened within
// kAttachGrace, or whose local process has exited, no longer counts as a live client.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/core/peer_table.h"
#include "server/core/process_prober.h"

namespace shmpool::server {

inline constexpr absl::Duration kAttachGrace = absl::Seconds(10);

struct SessionInfo {
  enum State { kAttaching, kLive };
  uint64_t id = 0;
  std::string arena_id;
  uint64_t generation = 0;
  std::string client_name;
  PeerCredentials peer;
  absl::Time attach_time;
  State state = kAttaching;
  int32_t proc_index = -1;
};

// Told when a session goes LIVE and when a LIVE session ends (the Reclaimer). Called with
// no lock of the registry held.
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void Watch(const SessionInfo& s) = 0;
  virtual void StreamEnded(const SessionInfo& s) = 0;
};

class SessionRegistry {
 public:
  // `clock` times the attach grace, `prober` tells an attaching process that has exited;
  // both outlive the registry.
  explicit SessionRegistry(uint32_t max_sessions, const Clock& clock = SystemClock(),
                           const ProcessProber& prober = KernelProber())
      : max_sessions_(max_sessions), clock_(clock), prober_(prober) {}

  // Before any session begins; `observer` outlives the registry's use.
  void SetObserver(SessionObserver* observer) { observer_ = observer; }

  // A new ATTACHING session; RESOURCE_EXHAUSTED past max_sessions.
  absl::StatusOr<SessionInfo> Begin(const std::string& arena_id, uint64_t generation,
                                    const std::string& client_name, const PeerCredentials& peer)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Makes a session LIVE. NOT_FOUND if unknown or already live (a stream per session),
  // PERMISSION_DENIED when `peer` is another local process than the one that attached.
  absl::StatusOr<SessionInfo> Open(uint64_t id, const PeerCredentials& peer, int32_t proc_index)
      ABSL_LOCKS_EXCLUDED(mu_);
  void End(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Sessions of one arena (all arenas if empty), in id order; drops stale ATTACHING ones.
  std::vector<SessionInfo> List(const std::string& arena_id) ABSL_LOCKS_EXCLUDED(mu_);
  // ATTACHING sessions of an arena within their grace period: clients about to map it.
  uint32_t CountAttaching(const std::string& arena_id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void DropStale() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint32_t max_sessions_;
  const Clock& clock_;
  const ProcessProber& prober_;
  SessionObserver* observer_ = nullptr;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::btree_map<uint64_t, SessionInfo> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmpool::server
