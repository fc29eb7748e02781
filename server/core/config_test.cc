// Tests of the daemon's configuration: the embedded default, TOML parsing and validation.
#include "server/core/config.h"

#include "gtest/gtest.h"

namespace shmpool::server {
namespace {

TEST(Config, DefaultHasOneGibArena) {
  const Config c = DefaultConfig();
  ASSERT_EQ(c.arenas.size(), 1u);
  EXPECT_EQ(c.arenas[0].id, "default");
  EXPECT_EQ(c.arenas[0].capacity, uint64_t{1} << 30);
  EXPECT_EQ(c.shm_dir, "/dev/shm/shmpool");
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].rfind("unix:/", 0), 0u);
}

TEST(Config, ParsesEverything) {
  absl::StatusOr<Config> c = ParseConfig(R"(
listen = ["unix:/tmp/x.sock", "127.0.0.1:7500"]
shm_dir = "/tmp/shm"
[limits]
max_arena_capacity = "2GiB"
max_arenas = 4
max_sessions = 10
[[arena]]
name = "a"
capacity = "64MiB"
quota = 1048576
owner = 0
group = "root"
max_procs = 16
max_thread_caches = 64
[[arena]]
name = "b"
capacity = 4096
)",
                                         "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->shm_dir, "/tmp/shm");
  EXPECT_EQ(c->limits.max_arena_capacity, uint64_t{2} << 30);
  EXPECT_EQ(c->limits.max_arenas, 4u);
  ASSERT_EQ(c->arenas.size(), 2u);
  EXPECT_EQ(c->arenas[0].capacity, uint64_t{64} << 20);
  EXPECT_EQ(c->arenas[0].quota, uint64_t{1} << 20);
  EXPECT_EQ(*c->arenas[0].owner, 0u);
  EXPECT_EQ(*c->arenas[0].group, 0u);
  EXPECT_EQ(c->arenas[0].max_procs, 16u);
  EXPECT_EQ(c->arenas[1].id, "b");
}

TEST(Config, PerUidLimits) {
  const Limits d = DefaultConfig().limits;
  EXPECT_EQ(d.max_arenas_per_uid, 16u);
  EXPECT_EQ(d.max_capacity_per_uid, uint64_t{4} << 40);
  EXPECT_EQ(d.max_pools_per_uid, 256u);
  EXPECT_EQ(d.max_total_capacity, uint64_t{64} << 40);
  absl::StatusOr<Config> c = ParseConfig(R"(
[limits]
max_arenas_per_uid = 3
max_capacity_per_uid = "8GiB"
max_pools_per_uid = 5
max_total_capacity = "1TiB"
)",
                                         "limits.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits.max_arenas_per_uid, 3u);
  EXPECT_EQ(c->limits.max_capacity_per_uid, uint64_t{8} << 30);
  EXPECT_EQ(c->limits.max_pools_per_uid, 5u);
  EXPECT_EQ(c->limits.max_total_capacity, uint64_t{1} << 40);
  absl::StatusOr<Config> bad = ParseConfig("[limits]\nmax_pools_per_uid = -1\n", "b.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("limits.max_pools_per_uid"), std::string::npos);
}

TEST(Config, RejectsWithReasons) {
  auto bad = [](const char* text) {
    absl::StatusOr<Config> c = ParseConfig(text, "t.toml");
    EXPECT_FALSE(c.ok()) << text;
    return std::string(c.status().message());
  };
  EXPECT_NE(bad("nonsense = 1").find("unknown key"), std::string::npos);
  EXPECT_NE(bad("[[arena]]\nname = \"a/b\"\ncapacity = 4096").find("'/'"), std::string::npos);
  EXPECT_NE(bad("[[arena]]\nname = \"a\"\ncapacity = 4097").find("4 KiB"), std::string::npos);
  EXPECT_NE(bad("[[arena]]\nname = \"a\"").find("capacity is missing"), std::string::npos);
  EXPECT_NE(bad("[[arena]]\nname = \"a\"\ncapacity = \"2TiB\"").find("limit"), std::string::npos);
  EXPECT_NE(bad("[[arena]]\nname=\"a\"\ncapacity=4096\n[[arena]]\nname=\"a\"\ncapacity=4096")
                .find("twice"),
            std::string::npos);
  EXPECT_NE(bad("listen = [").find("t.toml:"), std::string::npos);
  EXPECT_NE(bad("listen = \"nonsense\"").find("endpoint"), std::string::npos);
}

TEST(Config, MetricsAndTlsTables) {
  absl::StatusOr<Config> c = ParseConfig(R"(
[metrics]
read_timeout_ms = 250
idle_timeout_ms = 500
max_connections = 3
per_client = false
[tls]
cert_file = "/s.pem"
key_file = "/s.key"
ca_file = "/ca.pem"
)",
                                         "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics.read_timeout_ms, 250);
  EXPECT_EQ(c->metrics.idle_timeout_ms, 500);
  EXPECT_EQ(c->metrics.max_connections, 3);
  EXPECT_FALSE(c->metrics.per_client);
  EXPECT_TRUE(c->tls.enabled());
  EXPECT_EQ(c->tls.ca_file, "/ca.pem");
  const Config d = DefaultConfig();
  EXPECT_TRUE(d.metrics.per_client);
  EXPECT_FALSE(d.tls.enabled());
  for (const char* text : {"[metrics]\nread_timeout_ms = 0", "[metrics]\nper_client = 1",
                           "[metrics]\nnonsense = 1", "[tls]\ncert_file = \"/s.pem\"",
                           "[tls]\ncert_file = \"\"\nkey_file = \"k\"\nca_file = \"c\""}) {
    absl::StatusOr<Config> e = ParseConfig(text, "t.toml");
    EXPECT_FALSE(e.ok()) << text;
  }
}

TEST(Config, SegmentLockTimeout) {
  EXPECT_EQ(DefaultConfig().limits.segment_lock_timeout_ms, 1000u);
  absl::StatusOr<Config> c = ParseConfig("[limits]\nsegment_lock_timeout_ms = 250\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits.segment_lock_timeout_ms, 250u);
  EXPECT_FALSE(ParseConfig("[limits]\nsegment_lock_timeout_ms = -1\n", "t.toml").ok());
}

}  // namespace
}  // namespace shmpool::server
