#include "server/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/api/endpoint.h"
#include "server/core/log.h"
#include "server/core/safe_file.h"
#include "server/rpc/metrics_text.h"
#include "server/rpc/proto_convert.h"
#include "server/rpc/stats_collector.h"
#include "server/rpc/tcp_credentials.h"
#include "shm/untrusted.h"

namespace shmpool::server {
namespace {

// What one connection may hold of the daemon: every request is small (the largest names an
// arena and a few numbers); a process needs a session stream per arena it attaches to (its
// attaches share one connection) and a few more for watches and calls.
constexpr int kMaxRequestBytes = 64 * 1024;
constexpr int kStreamsBesideSessions = 64;
constexpr int kHandshakeTimeoutMs = 10000;  // a TCP peer that connects and never speaks

constexpr const char* kServices[] = {"shmpool.v1.ArenaService", "shmpool.v1.SessionService",
                                     "shmpool.v1.StatsService", "shmpool.v1.PoolService"};

}  // namespace

Daemon::Daemon(const Config& config)
    : config_(config),
      sessions_(config.limits.max_sessions),
      arenas_(config.shm_dir, config.limits, &sessions_),
      reclaimer_(&arenas_),
      authz_(geteuid(), config.admin_gid, config.tls.enabled()),
      arena_service_(&arenas_, &peers_, &authz_),
      session_service_(&arenas_, &sessions_, &peers_, &authz_),
      stats_service_(&arenas_, &sessions_, &peers_, &authz_, &stopping_),
      pool_service_(&arenas_, &peers_, &authz_),
      purge_policy_(&arenas_, config) {}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const Config& config) {
  std::unique_ptr<Daemon> d(new Daemon(config));
  if (absl::Status st = d->Init(); !st.ok()) return st;
  return d;
}

absl::Status Daemon::Init() {
  // 0755: clients open their segments by path; each file's owner and mode decide who may.
  if (absl::Status st = PreparePrivateDir(config_.shm_dir, 0755, geteuid(), "shm directory");
      !st.ok())
    return st;
  absl::StatusOr<std::unique_ptr<LockFile>> lock =
      LockFile::Acquire(config_.shm_dir + "/shmpool.lock", "shm directory " + config_.shm_dir);
  if (!lock.ok()) return lock.status();
  shm_dir_lock_ = std::move(*lock);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(&arena_service_);
  builder.RegisterService(&session_service_);
  builder.RegisterService(&stats_service_);
  builder.RegisterService(&pool_service_);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config_.limits.max_arenas) + kStreamsBesideSessions);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tcp_credentials =
      TcpServerCredentials(config_.tls);
  if (!tcp_credentials.ok()) return tcp_credentials.status();
  std::vector<std::pair<std::string, std::unique_ptr<int>>> tcp_ports;
  for (const std::string& text : config_.listen) {
    absl::StatusOr<api::Endpoint> e = api::ParseEndpoint(text);
    if (!e.ok()) return e.status();
    if (e->kind == api::Endpoint::kUnix) {
      absl::StatusOr<std::unique_ptr<UnixListener>> l = UnixListener::Bind(e->address);
      if (!l.ok()) return l.status();
      unix_listeners_.push_back(std::move(*l));
    } else {
      tcp_ports.emplace_back(e->address, std::make_unique<int>(0));
      builder.AddListeningPort(e->address, *tcp_credentials, tcp_ports.back().second.get());
    }
  }
  // Every lock is held and every socket bound: now the segments are ours to adopt. From
  // here a SIGBUS in a segment mapping (a tenant cut its file short) is contained.
  shm::InstallBusGuard();
  arenas_.AdoptExisting();
  // Clients that died while no daemon watched them: reclaimed before anyone attaches.
  if (const int n = reclaimer_.Audit("adoption"); n > 0)
    LogInfo("adopted_dead_clients").Kv("count", n);
  sessions_.SetObserver(&reclaimer_);
  reclaimer_.Start();
  for (const ArenaSpec& spec : config_.arenas)
    if (absl::Status st = arenas_.Ensure(spec); !st.ok()) return st;

  if (!config_.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> m = MetricsHttpServer::Start(
        config_.metrics_listen,
        [this] {
          v1::GetStatsResponse resp;
          for (const ArenaPtr& a : arenas_.List()) {
            v1::ArenaStats* s = resp.add_arenas();
            // A quarantined arena has its own series.
            CollectArenaStats(arenas_, *a, sessions_.List(a->spec.id), s).IgnoreError();
            if (!config_.metrics.per_client) s->clear_clients();
          }
          return FormatMetrics(resp);
        },
        MetricsHttpOptions{
            .read_timeout = std::chrono::milliseconds(config_.metrics.read_timeout_ms),
            .idle_timeout = std::chrono::milliseconds(config_.metrics.idle_timeout_ms),
            .max_connections = static_cast<int>(config_.metrics.max_connections)});
    if (!m.ok()) return m.status();
    metrics_ = std::move(*m);
    LogInfo("metrics_listening").Kv("address", config_.metrics_listen).Kv("port", metrics_->port());
  }
  purge_policy_.Start();

  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::UnavailableError("cannot start the gRPC server");
  for (const auto& [address, port] : tcp_ports)
    if (*port == 0)
      return absl::UnavailableError(absl::StrFormat("cannot listen on %s (in use?)", address));
  for (const char* s : kServices) server_->GetHealthCheckService()->SetServingStatus(s, true);
  for (auto& l : unix_listeners_) l->Start(server_.get(), &peers_);

  std::vector<std::string> names;
  for (const ArenaPtr& a : arenas_.List()) names.push_back(a->spec.id);
  LogInfo("daemon_started")
      .Kv("pid", getpid())
      .Kv("listen", absl::StrJoin(config_.listen, ","))
      .Kv("shm_dir", config_.shm_dir)
      .Kv("arenas", absl::StrJoin(names, ","));
  return absl::OkStatus();
}

void Daemon::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;  // never started
  LogInfo("daemon_stopping").Kv("pid", getpid());
  stopping_.Notify();
  server_->GetHealthCheckService()->Shutdown();
  for (auto& l : unix_listeners_) l->Stop();
  session_service_.Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  if (metrics_) metrics_->Stop();
  purge_policy_.Stop();
  reclaimer_.Stop();
  unix_listeners_.clear();
  LogInfo("daemon_stopped").Kv("segments_kept", arenas_.List().size());
}

Daemon::~Daemon() { Shutdown(); }

}  // namespace shmpool::server
