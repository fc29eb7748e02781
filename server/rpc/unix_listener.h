// UnixListener: the daemon's Unix socket. It binds the socket under a lock file
// (PATH.lock), accepts connections on its own thread, records each peer's SO_PEERCRED in
// the PeerTable and hands the connection to gRPC (AddInsecureChannelFromFd), because
// gRPC's own Unix listener gives handlers no peer credentials.
//
// Lifecycle: Bind (lock, remove a stale socket left by a killed daemon, bind, listen), then
// Start once the gRPC server runs, then Stop (no new connections; the socket file and the
// lock are removed when the listener is destroyed). The socket is mode 0666: any local user
// may connect; what a peer may do is decided from its credentials.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/core/lock_file.h"
#include "server/core/peer_table.h"

namespace grpc {
class Server;
}

namespace shmpool::server {

class UnixListener {
 public:
  static absl::StatusOr<std::unique_ptr<UnixListener>> Bind(const std::string& path);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  void Start(grpc::Server* server, PeerTable* peers);
  void Stop();
  const std::string& path() const { return path_; }

 private:
  UnixListener(std::string path, int fd, int wake_fd, std::unique_ptr<LockFile> lock);
  void AcceptLoop(grpc::Server* server, PeerTable* peers);

  std::string path_;
  int fd_;
  int wake_fd_;  // eventfd: Stop() wakes the accept loop
  std::unique_ptr<LockFile> lock_;
  std::thread thread_;
};

}  // namespace shmpool::server
