// Fakes for the core's unit tests: a clock moved by hand, a process prober that answers
// what the test says, callers with made-up credentials, and a private shm directory with a
// registry over it. Header-only; tests only.
#pragma once

#include <stdlib.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/clock.h"
#include "server/core/peer_table.h"
#include "server/core/process_prober.h"
#include "server/core/resolve.h"
#include "server/core/session_registry.h"

namespace shmpool::server::testing {

// Now() is what the test last set; starts at a fixed date.
class FakeClock final : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'800'000'000);
};

// Every process is kAlive unless the test said otherwise for its pid.
class FakeProber final : public ProcessProber {
 public:
  shm::Liveness Check(const shm::ProcIdentity& id) const override {
    return CheckPid(static_cast<pid_t>(id.pid));
  }
  shm::Liveness CheckPid(pid_t pid) const override {
    absl::MutexLock lock(&mu_);
    auto it = verdicts_.find(pid);
    return it == verdicts_.end() ? shm::Liveness::kAlive : it->second;
  }
  void Set(pid_t pid, shm::Liveness l) {
    absl::MutexLock lock(&mu_);
    verdicts_[pid] = l;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<pid_t, shm::Liveness> verdicts_ ABSL_GUARDED_BY(mu_);
};

// A pid no process can have (above the kernel's PID_MAX_LIMIT): Authz finds no
// /proc/PID/status, so a fake caller's groups are its gid alone.
inline constexpr pid_t kNoSuchPid = 2'000'000'000;

// A local caller as SO_PEERCRED would give it.
inline PeerCredentials Local(uid_t uid, gid_t gid, pid_t pid = kNoSuchPid) {
  return PeerCredentials{.local = true, .pid = pid, .uid = uid, .gid = gid, .address = "fd:7"};
}
// A TCP caller: no credentials.
inline PeerCredentials Remote() { return PeerCredentials{.address = "ipv4:192.0.2.1:5000"}; }

// A registry over a private directory under /dev/shm, removed afterwards; the daemon is
// root (uid 0) with admin group 900, without [tls].
struct TempRegistry {
  explicit TempRegistry(Limits limits = {})
      : dir(MakeDir()), arenas(std::make_unique<ArenaRegistry>(dir, limits, &sessions)) {}
  ~TempRegistry() {
    arenas.reset();
    std::filesystem::remove_all(dir);
  }
  // An arena of 1 MiB owned by `owner` (and its group: mode 0660).
  ArenaPtr Create(const std::string& id, uid_t owner, gid_t group) {
    absl::StatusOr<ArenaPtr> a =
        arenas->Create(ArenaSpec{.id = id, .capacity = 1 << 20, .owner = owner, .group = group});
    return a.ok() ? *a : nullptr;
  }

  static std::string MakeDir() {
    char tmpl[] = "/dev/shm/shmpool-core-test-XXXXXX";
    return mkdtemp(tmpl);
  }

  // In this order: each is built from those above it.
  std::string dir;
  SessionRegistry sessions{64};
  std::unique_ptr<ArenaRegistry> arenas;
  PeerTable peers;
  Authz authz{0, gid_t{900}, false};
  Resolver resolver{arenas.get(), &peers, &authz};
};

// Two tenants' arenas: "a" of uid 1000 (group 100) and "b" of uid 2000 (group 200).
class TwoTenants : public ::testing::Test {
 protected:
  TwoTenants() {
    EXPECT_NE(r_.Create("a", 1000, 100), nullptr);
    EXPECT_NE(r_.Create("b", 2000, 200), nullptr);
  }
  TempRegistry r_;
};

}  // namespace shmpool::server::testing
