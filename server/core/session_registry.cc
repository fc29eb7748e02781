#include "server/core/session_registry.h"

#include "absl/strings/str_format.h"

namespace shmpool::server {

absl::StatusOr<SessionInfo> SessionRegistry::Begin(const std::string& arena_id, uint64_t generation,
                                                   const std::string& client_name,
                                                   const PeerCredentials& peer) {
  absl::MutexLock lock(&mu_);
  DropStale();
  if (sessions_.size() >= max_sessions_)
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the daemon already has %d sessions (limits.max_sessions)", sessions_.size()));
  SessionInfo s;
  s.id = next_id_++;
  s.arena_id = arena_id;
  s.generation = generation;
  s.client_name = client_name.substr(0, 31);
  s.peer = peer;
  s.attach_time = clock_.Now();
  sessions_[s.id] = s;
  return s;
}

absl::StatusOr<SessionInfo> SessionRegistry::Open(uint64_t id, const PeerCredentials& peer,
                                                  int32_t proc_index) {
  absl::ReleasableMutexLock lock(&mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end())
    return absl::NotFoundError(absl::StrFormat("session %d does not exist or has ended", id));
  SessionInfo& s = it->second;
  if (s.state == SessionInfo::kLive)
    return absl::NotFoundError(absl::StrFormat("session %d already has its stream", id));
  if (s.peer.local && (!peer.local || peer.pid != s.peer.pid))
    return absl::PermissionDeniedError(absl::StrFormat(
        "session %d belongs to pid %d; pid %d may not open it", id, s.peer.pid, peer.pid));
  s.state = SessionInfo::kLive;
  s.proc_index = proc_index;
  const SessionInfo out = s;
  lock.Release();
  if (observer_ != nullptr) observer_->Watch(out);
  return out;
}

void SessionRegistry::End(uint64_t id) {
  SessionInfo ended;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    ended = it->second;
    sessions_.erase(it);
  }
  if (observer_ != nullptr && ended.state == SessionInfo::kLive) observer_->StreamEnded(ended);
}

std::vector<SessionInfo> SessionRegistry::List(const std::string& arena_id) {
  absl::MutexLock lock(&mu_);
  DropStale();
  std::vector<SessionInfo> out;
  for (const auto& [id, s] : sessions_)
    if (arena_id.empty() || s.arena_id == arena_id) out.push_back(s);
  return out;
}

uint32_t SessionRegistry::CountAttaching(const std::string& arena_id) {
  absl::MutexLock lock(&mu_);
  DropStale();
  uint32_t n = 0;
  for (const auto& [id, s] : sessions_)
    if (s.arena_id == arena_id && s.state == SessionInfo::kAttaching &&
        !(s.peer.local && prober_.PidGone(s.peer.pid)))
      ++n;
  return n;
}

void SessionRegistry::DropStale() {
  const absl::Time cutoff = clock_.Now() - kAttachGrace;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.state == SessionInfo::kAttaching && it->second.attach_time < cutoff)
      it = sessions_.erase(it);
    else
      ++it;
  }
}

}  // namespace shmpool::server
