#include "server/core/peer_table.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace shmpool::server {

void PeerTable::Record(int fd, pid_t pid, uid_t uid, gid_t gid) {
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = Entry{pid, uid, gid};
}

PeerCredentials PeerTable::Lookup(absl::string_view peer) const {
  PeerCredentials c;
  c.address = std::string(peer);
  int fd = -1;
  if (!absl::StartsWith(peer, "fd:") || !absl::SimpleAtoi(peer.substr(3), &fd)) return c;
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return c;
  c.local = true;
  c.pid = it->second.pid;
  c.uid = it->second.uid;
  c.gid = it->second.gid;
  return c;
}

}  // namespace shmpool::server
