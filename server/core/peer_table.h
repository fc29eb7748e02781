// PeerTable: the kernel-verified credentials of each local connection, by file descriptor.
//
// The Unix listener accepts connections itself, reads SO_PEERCRED and records it here under
// the accepted fd before handing the fd to gRPC; a handler then finds its connection's
// credentials from ServerContext::peer(), which reads "fd:N" for such connections. An fd
// number is reused after gRPC closes it, and the listener overwrites the entry when it
// accepts the new connection, so a handler must look up at its start, while its connection
// (and so its fd) is alive. Peers of TCP connections are remote: no pid, uid or gid.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace shmpool::server {

struct PeerCredentials {
  bool local = false;  // true: pid, uid and gid are from SO_PEERCRED
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string address;  // gRPC's peer string ("fd:12", "ipv4:127.0.0.1:5000")
};

class PeerTable {
 public:
  void Record(int fd, pid_t pid, uid_t uid, gid_t gid) ABSL_LOCKS_EXCLUDED(mu_);
  // The credentials for a gRPC peer string.
  PeerCredentials Lookup(absl::string_view peer) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    pid_t pid;
    uid_t uid;
    gid_t gid;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, Entry> by_fd_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmpool::server
