// Daemon: shmpoold put together. Start() takes the shm directory's lock, adopts the
// segments it finds there, creates the configured arenas that are missing, binds every
// listen endpoint (Unix sockets through UnixListener, TCP through gRPC) and serves
// ArenaService, SessionService and StatsService, plus gRPC health checking and reflection.
//
// Shutdown() is graceful: health turns NOT_SERVING, no new connections, watches and session
// streams end, in-flight RPCs get a short deadline; segment files stay in place for the
// next daemon to adopt (attached clients keep allocating meanwhile).
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/config.h"
#include "server/core/lock_file.h"
#include "server/core/peer_table.h"
#include "server/core/purge_policy.h"
#include "server/core/reclaimer.h"
#include "server/core/session_registry.h"
#include "server/rpc/arena_service.h"
#include "server/rpc/metrics_http.h"
#include "server/rpc/pool_service.h"
#include "server/rpc/session_service.h"
#include "server/rpc/stats_service.h"
#include "server/rpc/unix_listener.h"

namespace grpc {
class Server;
}

namespace shmpool::server {

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const Config& config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void Shutdown();

 private:
  explicit Daemon(const Config& config);
  absl::Status Init();

  const Config config_;
  std::unique_ptr<LockFile> shm_dir_lock_;
  PeerTable peers_;
  SessionRegistry sessions_;
  ArenaRegistry arenas_;
  Reclaimer reclaimer_;  // dead clients: session ends, pidfds, audits
  absl::Notification stopping_;
  Authz authz_;  // who may attach to and manage which arena (authz.h)
  ArenaServiceImpl arena_service_;
  SessionServiceImpl session_service_;
  StatsServiceImpl stats_service_;
  PoolServiceImpl pool_service_;
  std::vector<std::unique_ptr<UnixListener>> unix_listeners_;
  std::unique_ptr<grpc::Server> server_;
  PurgePolicy purge_policy_;                    // decay and pressure purges
  std::unique_ptr<MetricsHttpServer> metrics_;  // --metrics-listen: Prometheus /metrics
  bool shut_down_ = false;
};

}  // namespace shmpool::server
