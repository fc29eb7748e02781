// The daemon's configuration: where it listens, where segments live, the arenas it serves
// from the start, and its limits. Built from, in order of precedence: command-line flags,
// the TOML file given with --config, the embedded default (DefaultConfig).
//
// The TOML file (every key optional):
//
//   listen = ["unix:/run/shmpool/shmpoold.sock", "127.0.0.1:7500"]
//   shm_dir = "/dev/shm"
//
//   [limits]
//   max_arena_capacity = "1TiB"   # sizes: integers (bytes) or strings like "64MiB"
//   max_arenas = 256
//   max_sessions = 65536
//
//   [[arena]]
//   name = "default"              # an arena id: [a-z0-9-_.], 1 to 63 characters
//   capacity = "1GiB"
//   quota = "512MiB"              # stored and reported; not enforced yet
//   owner = "alice"               # user name or uid; group likewise
//   group = 100
//   max_procs = 1024
//   max_thread_caches = 4096
//
// Invariants after a successful load: every arena id is valid and unique; capacities are
// positive multiples of 4 KiB within max_arena_capacity; quota <= capacity; at least one
// listen endpoint.
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
};

struct Limits {
  uint64_t max_arena_capacity = uint64_t{1} << 40;
  uint32_t max_arenas = 256;
  uint32_t max_sessions = 65536;
};

struct Config {
  std::vector<std::string> listen;  // endpoints: "unix:PATH" or "HOST:PORT"
  std::string shm_dir = "/dev/shm";
  std::vector<ArenaSpec> arenas;
  Limits limits;
};

// One arena "default" of 1 GiB (sparse) in /dev/shm, on the default socket.
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
