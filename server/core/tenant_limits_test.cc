// Tests of the per-uid and daemon-wide limits: each refusal names the limit, its value and
// the use; root and the daemon's uid are held to the daemon-wide limit only.
#include "server/core/tenant_limits.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "shm/pool.h"

namespace shmpool::server {
namespace {

constexpr uid_t kTenant = 4242;

class TenantLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/shmpool-limits-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // An arena record of `capacity` bytes (the segment itself is 1 MiB) owned by `uid`.
  ArenaPtr Arena(uid_t uid, uint64_t capacity) {
    shm::Geometry g;
    g.capacity = 1 << 20;
    g.max_procs = 4;
    g.max_thread_caches = 4;
    auto seg = shm::Segment::Create(dir_ + "/a" + std::to_string(n_++) + ".seg", g);
    EXPECT_TRUE(seg.ok()) << seg.status();
    auto rec = std::make_shared<ArenaRecord>();
    rec->spec.capacity = capacity;
    rec->uid = uid;
    rec->segment = std::move(*seg);
    return rec;
  }
  std::string dir_;
  int n_ = 0;
};

TEST_F(TenantLimitsTest, ArenasAndCapacityPerUid) {
  Limits l;
  l.max_arenas_per_uid = 2;
  l.max_capacity_per_uid = 100 << 20;
  std::vector<ArenaPtr> arenas = {Arena(kTenant, 40 << 20), Arena(0, 1 << 30)};
  EXPECT_TRUE(CheckArenaLimits(l, kTenant, 60 << 20, arenas).ok());
  absl::Status st = CheckArenaLimits(l, kTenant, 61 << 20, arenas);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(),
            "limits.max_capacity_per_uid = 100 MiB: uid 4242 has 40 MiB in its arenas, 61 MiB "
            "more does not fit");
  arenas.push_back(Arena(kTenant, 1 << 20));
  st = CheckArenaLimits(l, kTenant, 1 << 20, arenas);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "limits.max_arenas_per_uid = 2: uid 4242 has 2 arenas");
  EXPECT_TRUE(CheckArenaLimits(l, 0, 1 << 30, arenas).ok()) << "root is exempt";
  EXPECT_TRUE(CheckArenaLimits(l, geteuid(), 1 << 30, arenas).ok()) << "the daemon's uid too";
  EXPECT_TRUE(CheckArenaLimits(l, kTenant + 1, 1 << 20, arenas).ok()) << "another tenant";
}

TEST_F(TenantLimitsTest, TotalCapacityHoldsForRootToo) {
  Limits l;
  l.max_total_capacity = uint64_t{2} << 30;
  const std::vector<ArenaPtr> arenas = {Arena(kTenant, 1 << 30), Arena(0, 512 << 20)};
  EXPECT_TRUE(CheckArenaLimits(l, 0, 512 << 20, arenas).ok());
  absl::Status st = CheckArenaLimits(l, 0, (512 << 20) + 4096, arenas);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(
      st.message().find("limits.max_total_capacity = 2 GiB: the daemon's arenas have 1.5 GiB"),
      std::string::npos)
      << st;
}

TEST_F(TenantLimitsTest, PoolsPerUid) {
  Limits l;
  l.max_pools_per_uid = 1;
  const std::vector<ArenaPtr> arenas = {Arena(kTenant, 1 << 20), Arena(kTenant, 1 << 20)};
  EXPECT_TRUE(CheckPoolLimit(l, kTenant, arenas).ok());
  ASSERT_TRUE(
      shm::CreatePool(*arenas[0]->segment, {.name = "p", .object_size = 64, .count = 4}).ok());
  EXPECT_EQ(UseOf(kTenant, arenas).pools, 1u);
  absl::Status st = CheckPoolLimit(l, kTenant, arenas);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "limits.max_pools_per_uid = 1: uid 4242 has 1 pool in its arenas");
  EXPECT_TRUE(CheckPoolLimit(l, 0, arenas).ok());
}

}  // namespace
}  // namespace shmpool::server
