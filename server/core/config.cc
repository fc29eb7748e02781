#include "server/core/config.h"

#include <grp.h>
#include <pwd.h>

#include <toml++/toml.h>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/api/endpoint.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shm/size_class.h"

namespace shmpool::server {
namespace {

// A size given as an integer (bytes) or a string ("64MiB").
absl::StatusOr<uint64_t> SizeOf(const toml::node& n, absl::string_view key) {
  if (auto i = n.value<int64_t>()) {
    if (*i < 0) return absl::InvalidArgumentError(absl::StrCat(key, " must not be negative"));
    return static_cast<uint64_t>(*i);
  }
  if (auto s = n.value<std::string>()) {
    absl::StatusOr<uint64_t> v = api::ParseSize(*s);
    if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", v.status().message()));
    return v;
  }
  return absl::InvalidArgumentError(absl::StrCat(key, " must be a size (integer or \"64MiB\")"));
}

absl::StatusOr<uint32_t> CountOf(const toml::node& n, absl::string_view key) {
  auto i = n.value<int64_t>();
  if (!i || *i < 0 || *i > 0xffffffffll)
    return absl::InvalidArgumentError(absl::StrCat(key, " must be a non-negative integer"));
  return static_cast<uint32_t>(*i);
}

// A user or group given as a name or a number.
template <typename Resolve>
auto IdOf(const toml::node& n, absl::string_view key, Resolve resolve)
    -> decltype(resolve(absl::string_view())) {
  if (auto i = n.value<int64_t>()) return resolve(absl::StrCat(*i));
  if (auto s = n.value<std::string>()) return resolve(*s);
  return absl::InvalidArgumentError(absl::StrCat(key, " must be a name or a number"));
}

absl::StatusOr<ArenaSpec> ParseArena(const toml::table& t, size_t index) {
  const std::string where = absl::StrFormat("arena #%d", index + 1);
  ArenaSpec a;
  auto name = t["name"].value<std::string>();
  if (!name) return absl::InvalidArgumentError(absl::StrCat(where, ": name is missing"));
  a.id = *name;
  const std::string at = absl::StrCat("arena ", a.id);
  if (!t.contains("capacity"))
    return absl::InvalidArgumentError(absl::StrCat(at, ": capacity is missing"));
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    const std::string full = absl::StrCat(at, ": ", key);
    if (key == "name") continue;
    if (key == "capacity" || key == "quota") {
      absl::StatusOr<uint64_t> s = SizeOf(v, full);
      if (!s.ok()) return s.status();
      (key == "capacity" ? a.capacity : a.quota) = *s;
    } else if (key == "max_procs" || key == "max_thread_caches") {
      absl::StatusOr<uint32_t> c = CountOf(v, full);
      if (!c.ok()) return c.status();
      (key == "max_procs" ? a.max_procs : a.max_thread_caches) = *c;
    } else if (key == "decay_ms") {
      auto ms = v.value<int64_t>();
      if (!ms || *ms < -1)
        return absl::InvalidArgumentError(absl::StrCat(full, " must be -1 (never) or >= 0"));
      a.decay_ms = *ms;
    } else if (key == "owner") {
      absl::StatusOr<uid_t> u = IdOf(v, full, ResolveUser);
      if (!u.ok()) return u.status();
      a.owner = *u;
    } else if (key == "group") {
      absl::StatusOr<gid_t> g = IdOf(v, full, ResolveGroup);
      if (!g.ok()) return g.status();
      a.group = *g;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(at, ": unknown key \"", key, "\""));
    }
  }
  return a;
}

absl::Status ParseLimits(const toml::table& t, Limits& limits) {
  const std::pair<absl::string_view, uint64_t*> sizes[] = {
      {"max_arena_capacity", &limits.max_arena_capacity},
      {"max_total_capacity", &limits.max_total_capacity},
      {"max_capacity_per_uid", &limits.max_capacity_per_uid}};
  const std::pair<absl::string_view, uint32_t*> counts[] = {
      {"max_arenas", &limits.max_arenas},
      {"max_sessions", &limits.max_sessions},
      {"max_arenas_per_uid", &limits.max_arenas_per_uid},
      {"max_pools_per_uid", &limits.max_pools_per_uid},
      {"segment_lock_timeout_ms", &limits.segment_lock_timeout_ms}};
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    const std::string full = absl::StrCat("limits.", key);
    bool known = false;
    for (const auto& [name, field] : sizes) {
      if (key != name) continue;
      absl::StatusOr<uint64_t> s = SizeOf(v, full);
      if (!s.ok()) return s.status();
      *field = *s;
      known = true;
    }
    for (const auto& [name, field] : counts) {
      if (key != name) continue;
      absl::StatusOr<uint32_t> c = CountOf(v, full);
      if (!c.ok()) return c.status();
      *field = *c;
      known = true;
    }
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown key \"", full, "\""));
  }
  return absl::OkStatus();
}

absl::Status ParsePurge(const toml::table& t, PurgeConfig& p) {
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    const std::string full = absl::StrCat("purge.", key);
    if (key == "decay_ms" || key == "interval_ms") {
      auto ms = v.value<int64_t>();
      const int64_t min = key == "decay_ms" ? -1 : 1;
      if (!ms || *ms < min)
        return absl::InvalidArgumentError(absl::StrCat(full, " must be an integer >= ", min));
      (key == "decay_ms" ? p.decay_ms : p.interval_ms) = *ms;
    } else if (key == "memory_limit" || key == "min_free") {
      absl::StatusOr<uint64_t> s = SizeOf(v, full);
      if (!s.ok()) return s.status();
      (key == "memory_limit" ? p.memory_limit : p.min_free) = *s;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown key \"", full, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseMetrics(const toml::table& t, MetricsConfig& m) {
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    const std::string full = absl::StrCat("metrics.", key);
    if (key == "per_client") {
      const toml::value<bool>* b = v.as_boolean();  // value<bool>() would take 1 too
      if (b == nullptr)
        return absl::InvalidArgumentError(absl::StrCat(full, " must be true or false"));
      m.per_client = b->get();
    } else if (key == "read_timeout_ms" || key == "idle_timeout_ms" || key == "max_connections") {
      auto n = v.value<int64_t>();
      if (!n || *n < 1)
        return absl::InvalidArgumentError(absl::StrCat(full, " must be an integer >= 1"));
      (key == "read_timeout_ms"   ? m.read_timeout_ms
       : key == "idle_timeout_ms" ? m.idle_timeout_ms
                                  : m.max_connections) = *n;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown key \"", full, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTls(const toml::table& t, TlsConfig& tls) {
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    auto s = v.value<std::string>();
    std::string* field = key == "cert_file"  ? &tls.cert_file
                         : key == "key_file" ? &tls.key_file
                         : key == "ca_file"  ? &tls.ca_file
                                             : nullptr;
    if (field == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("unknown key \"tls.", key, "\""));
    if (!s || s->empty())
      return absl::InvalidArgumentError(absl::StrCat("tls.", key, " must be a path"));
    *field = *s;
  }
  if (tls.cert_file.empty() || tls.key_file.empty() || tls.ca_file.empty())
    return absl::InvalidArgumentError("[tls] needs cert_file, key_file and ca_file");
  return absl::OkStatus();
}

absl::Status ParseTop(const toml::table& root, Config& c) {
  for (const auto& [k, v] : root) {
    const std::string key(k.str());
    if (key == "listen") {
      c.listen.clear();
      if (auto s = v.value<std::string>()) {
        c.listen.push_back(*s);
      } else if (const toml::array* arr = v.as_array()) {
        for (const toml::node& e : *arr) {
          auto s2 = e.value<std::string>();
          if (!s2) return absl::InvalidArgumentError("listen must hold strings");
          c.listen.push_back(*s2);
        }
      } else {
        return absl::InvalidArgumentError("listen must be a string or a list of strings");
      }
    } else if (key == "shm_dir") {
      auto s = v.value<std::string>();
      if (!s || s->empty()) return absl::InvalidArgumentError("shm_dir must be a path");
      c.shm_dir = *s;
    } else if (key == "limits") {
      if (!v.is_table()) return absl::InvalidArgumentError("limits must be a table");
      if (absl::Status st = ParseLimits(*v.as_table(), c.limits); !st.ok()) return st;
    } else if (key == "purge") {
      if (!v.is_table()) return absl::InvalidArgumentError("purge must be a table");
      if (absl::Status st = ParsePurge(*v.as_table(), c.purge); !st.ok()) return st;
    } else if (key == "admin_group") {
      // Members (primary or supplementary group) manage every arena (server/core/authz.h).
      std::optional<std::string> name = v.value<std::string>();
      std::optional<int64_t> num = v.value<int64_t>();
      absl::StatusOr<gid_t> g = name  ? ResolveGroup(*name)
                                : num ? ResolveGroup(std::to_string(*num))
                                      : absl::InvalidArgumentError("a group name or gid");
      if (!g.ok())
        return absl::InvalidArgumentError(absl::StrCat("admin_group: ", g.status().message()));
      c.admin_gid = *g;
    } else if (key == "metrics_listen") {
      auto s = v.value<std::string>();
      if (!s) return absl::InvalidArgumentError("metrics_listen must be \"HOST:PORT\"");
      c.metrics_listen = *s;
    } else if (key == "metrics" || key == "tls") {
      if (!v.is_table()) return absl::InvalidArgumentError(absl::StrCat(key, " must be a table"));
      absl::Status st = key == "metrics" ? ParseMetrics(*v.as_table(), c.metrics)
                                         : ParseTls(*v.as_table(), c.tls);
      if (!st.ok()) return st;
    } else if (key == "arena") {
      const toml::array* arr = v.as_array();
      if (arr == nullptr || !arr->is_array_of_tables())
        return absl::InvalidArgumentError("arena must be an array of tables: [[arena]]");
      c.arenas.clear();
      for (size_t i = 0; i < arr->size(); ++i) {
        absl::StatusOr<ArenaSpec> a = ParseArena(*arr->get(i)->as_table(), i);
        if (!a.ok()) return a.status();
        c.arenas.push_back(std::move(*a));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown key \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const Config& c) {
  if (c.listen.empty()) return absl::InvalidArgumentError("listen names no endpoint");
  for (const std::string& e : c.listen)
    if (absl::StatusOr<api::Endpoint> p = api::ParseEndpoint(e); !p.ok()) return p.status();
  for (size_t i = 0; i < c.arenas.size(); ++i) {
    if (absl::Status st = ValidateArenaSpec(c.arenas[i], c.limits); !st.ok()) return st;
    for (size_t j = 0; j < i; ++j)
      if (c.arenas[j].id == c.arenas[i].id)
        return absl::InvalidArgumentError(
            absl::StrCat("arena \"", c.arenas[i].id, "\" is declared twice"));
  }
  return absl::OkStatus();
}

}  // namespace

Config DefaultConfig() {
  Config c;
  c.listen = {absl::StrCat("unix:", api::DaemonSocketPath())};
  c.arenas.push_back(ArenaSpec{.id = "default", .capacity = uint64_t{1} << 30});
  return c;
}

absl::Status ValidateArenaSpec(const ArenaSpec& a, const Limits& limits) {
  if (absl::Status st = api::ValidateArenaId(a.id); !st.ok()) return st;
  if (a.capacity == 0)
    return absl::InvalidArgumentError(absl::StrCat("arena ", a.id, ": capacity must not be 0"));
  if (a.capacity % shm::kPageSize != 0)
    return absl::InvalidArgumentError(absl::StrFormat(
        "arena %s: capacity %d is not a multiple of 4 KiB (4096 bytes)", a.id, a.capacity));
  if (a.capacity > limits.max_arena_capacity)
    return absl::InvalidArgumentError(absl::StrFormat(
        "arena %s: capacity %s is larger than the limit of %s (limits.max_arena_capacity)", a.id,
        api::FormatSize(a.capacity), api::FormatSize(limits.max_arena_capacity)));
  if (a.quota > a.capacity)
    return absl::InvalidArgumentError(
        absl::StrFormat("arena %s: quota %s is larger than its capacity %s", a.id,
                        api::FormatSize(a.quota), api::FormatSize(a.capacity)));
  return absl::OkStatus();
}

absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view origin) {
  Config c = DefaultConfig();
  try {
    toml::table root = toml::parse(std::string_view(text.data(), text.size()),
                                   std::string_view(origin.data(), origin.size()));
    if (absl::Status st = ParseTop(root, c); !st.ok())
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", st.message()));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: %s", origin, e.source().begin.line,
                                                      e.source().begin.column, e.description()));
  }
  if (absl::Status st = Validate(c); !st.ok())
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", st.message()));
  return c;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

absl::StatusOr<uid_t> ResolveUser(absl::string_view user) {
  uint32_t id = 0;
  if (absl::SimpleAtoi(user, &id)) return static_cast<uid_t>(id);
  const std::string name(user);
  struct passwd pw, *found = nullptr;
  char buf[4096];
  if (getpwnam_r(name.c_str(), &pw, buf, sizeof(buf), &found) != 0 || found == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("no such user \"", user, "\""));
  return found->pw_uid;
}

absl::StatusOr<gid_t> ResolveGroup(absl::string_view group) {
  uint32_t id = 0;
  if (absl::SimpleAtoi(group, &id)) return static_cast<gid_t>(id);
  const std::string name(group);
  struct group gr, *found = nullptr;
  char buf[4096];
  if (getgrnam_r(name.c_str(), &gr, buf, sizeof(buf), &found) != 0 || found == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("no such group \"", group, "\""));
  return found->gr_gid;
}

}  // namespace shmpool::server
