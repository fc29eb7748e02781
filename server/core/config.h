// The daemon's configuration: where it listens, where segments live, the arenas it serves
// from the start, and its limits. Built from, in order of precedence: command-line flags,
// the TOML file given with --config, the embedded default (DefaultConfig).
//
// The TOML file (every key optional):
//
//   listen = ["unix:/run/shmpool/shmpoold.sock", "127.0.0.1:7500"]
//   shm_dir = "/dev/shm/shmpool"   # the daemon's own: not writable by group or others
//
//   [limits]
//   max_arena_capacity = "1TiB"   # sizes: integers (bytes) or strings like "64MiB"
//   max_arenas = 256
//   max_sessions = 65536
//   max_total_capacity = "64TiB"  # every arena together, root's too
//   max_arenas_per_uid = 16       # per owner uid (tenant_limits.h; root exempt)
//   max_capacity_per_uid = "4TiB"
//   max_pools_per_uid = 256
//
//   [[arena]]
//   name = "default"              # an arena id: [a-z0-9-_.], 1 to 63 characters
//   capacity = "1GiB"
//   quota = "512MiB"              # committed bytes, enforced by the page heap
//   owner = "alice"               # user name or uid; group likewise
//   group = 100
//   max_procs = 1024
//   max_thread_caches = 4096
//   decay_ms = 10000              # this arena's decay time (default: purge.decay_ms)
//
//   [purge]                       # background purge (server/core/purge_policy.h)
//   decay_ms = -1                 # free pages idle this long go back to the OS; -1 never
//   memory_limit = "8GiB"         # purge when the arenas' resident bytes exceed it
//   min_free = "256MiB"           # purge when the shm directory has less free space
//   interval_ms = 100             # how often the policy thread looks
//
//   [metrics]                     # /metrics (metrics_listen = "HOST:PORT"; a bare port is
//   read_timeout_ms = 10000       # loopback); a request's head and body, and a response
//   idle_timeout_ms = 60000       # a keep-alive connection between requests
//   max_connections = 64          # open at once; more are answered 503
//   per_client = true             # false: no per-client series (one per client name)
//
//   [tls]                         # TCP listeners: TLS, client certificates required
//   cert_file = "/etc/shmpool/server.pem"   # PEM chain of the daemon's certificate
//   key_file = "/etc/shmpool/server.key"    # its private key
//   ca_file = "/etc/shmpool/clients-ca.pem" # CA(s) that signed the clients' certificates
//
// Invariants after a successful load: every arena id is valid and unique; capacities are
// positive multiples of 4 KiB within max_arena_capacity; quota <= capacity; at least one
// listen endpoint; [tls] names all three files or none; metrics timeouts and the connection
// cap are positive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmpool::server {

struct ArenaSpec {
  std::string id;
  uint64_t capacity = 0;
  uint64_t quota = 0;  // 0: none
  std::optional<uid_t> owner;
  std::optional<gid_t> group;
  uint32_t max_procs = 0;  // 0: the segment default
  uint32_t max_thread_caches = 0;
  std::optional<int64_t> decay_ms;  // [[arena]] decay_ms: overrides purge.decay_ms
};

struct Limits {
  uint64_t max_arena_capacity = uint64_t{1} << 40;
  uint32_t max_arenas = 256;
  uint32_t max_sessions = 65536;
  // How long the daemon waits for a lock in a tenant's segment before it quarantines the
  // arena (server/core/segment_guard.h).
  uint32_t segment_lock_timeout_ms = 1000;
  // The capacities of every arena added up, root's included: the daemon maps them all, so
  // this stays well below its address space (128 TiB on x86-64).
  uint64_t max_total_capacity = uint64_t{64} << 40;
  // Per owner uid of the arenas, root and the daemon's uid exempt (tenant_limits.h).
  uint32_t max_arenas_per_uid = 16;
  uint64_t max_capacity_per_uid = uint64_t{4} << 40;
  uint32_t max_pools_per_uid = 256;
};

// Background purge (server/core/purge_policy.h): [purge] in the TOML, --decay-ms and
// --memory-limit on the command line.
struct PurgeConfig {
  int64_t decay_ms = -1;      // free pages idle this long are purged; -1 never, 0 at once
  uint64_t memory_limit = 0;  // purge when the arenas' resident bytes exceed it; 0 none
  uint64_t min_free = 0;      // purge when the shm directory has less free; 0 none
  int64_t interval_ms = 100;  // how often the policy thread looks
};

// /metrics over HTTP (server/rpc/metrics_http.h): [metrics] in the TOML, --metrics-per-client.
struct MetricsConfig {
  int64_t read_timeout_ms = 10000;
  int64_t idle_timeout_ms = 60000;
  int64_t max_connections = 64;
  bool per_client = true;  // series per arena and client name (server/rpc/metrics_text.h)
};

// TLS of the TCP listeners ([tls]): every TCP connection must present a client certificate
// signed by ca_file. Without it, TCP peers are unauthenticated (server/core/authz.h).
struct TlsConfig {
  std::string cert_file, key_file, ca_file;
  bool enabled() const { return !cert_file.empty(); }
};

struct Config {
  std::vector<std::string> listen;  // endpoints: "unix:PATH" or "HOST:PORT"
  std::string shm_dir = "/dev/shm/shmpool";
  std::vector<ArenaSpec> arenas;
  Limits limits;
  PurgeConfig purge;
  std::string metrics_listen;  // HOST:PORT serving Prometheus /metrics; empty: off
  MetricsConfig metrics;
  TlsConfig tls;
  std::optional<gid_t> admin_gid;  // admin_group = "NAME" or GID: manages every arena (authz.h)
};

// One arena "default" of 1 GiB (sparse) in /dev/shm/shmpool, on the default socket.
Config DefaultConfig();

// Parses a TOML document over the default configuration: keys given replace the default's
// (an [[arena]] list replaces the default arena).
absl::StatusOr<Config> ParseConfig(absl::string_view toml_text, absl::string_view origin);
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// INVALID_ARGUMENT saying what is wrong with a spec, under `limits`.
absl::Status ValidateArenaSpec(const ArenaSpec& spec, const Limits& limits);

// A user or group given by name or number.
absl::StatusOr<uid_t> ResolveUser(absl::string_view user);
absl::StatusOr<gid_t> ResolveGroup(absl::string_view group);

}  // namespace shmpool::server
