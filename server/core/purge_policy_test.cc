#include "server/core/purge_policy.h"

#include <gtest/gtest.h>

namespace shmpool::server {
namespace {

constexpr uint64_t kMiB = 1 << 20;
const absl::Time t0 = absl::FromUnixSeconds(1000000);

std::vector<std::string> Ids(const std::vector<PurgeOrder>& v) {
  std::vector<std::string> out;
  for (const PurgeOrder& o : v) out.push_back(o.id);
  return out;
}

TEST(PurgeDecider, DecayPurgesArenasDirtyForTheirDecayTime) {
  PurgeConfig c;
  c.decay_ms = 1000;
  PurgeDecider d(c, {{"fast", 100}, {"never", -1}});
  const std::vector<ArenaLook> dirty = {
      {"fast", kMiB, 2 * kMiB}, {"slow", kMiB, 2 * kMiB}, {"never", kMiB, 2 * kMiB}};
  EXPECT_TRUE(d.Decide(t0, dirty, ~0ull).empty());
  EXPECT_TRUE(d.Decide(t0 + absl::Milliseconds(50), dirty, ~0ull).empty());
  auto o = d.Decide(t0 + absl::Milliseconds(150), dirty, ~0ull);
  ASSERT_EQ(Ids(o), std::vector<std::string>{"fast"});
  EXPECT_EQ(o[0].reason, PurgeOrder::kDecay);
  // "fast" purged: its clock restarts when it is seen dirty again.
  EXPECT_TRUE(d.Decide(t0 + absl::Milliseconds(200), dirty, ~0ull).empty());
  EXPECT_EQ(Ids(d.Decide(t0 + absl::Milliseconds(1000), dirty, ~0ull)),
            (std::vector<std::string>{"fast", "slow"}));
  EXPECT_TRUE(d.Decide(t0 + absl::Seconds(100), {{"never", kMiB, kMiB}}, ~0ull).empty());
}

TEST(PurgeDecider, CleanArenaRestartsItsClock) {
  PurgeConfig c;
  c.decay_ms = 100;
  PurgeDecider d(c, {});
  EXPECT_TRUE(d.Decide(t0, {{"a", kMiB, kMiB}}, ~0ull).empty());
  EXPECT_TRUE(d.Decide(t0 + absl::Milliseconds(90), {{"a", 0, kMiB}}, ~0ull).empty());
  EXPECT_TRUE(d.Decide(t0 + absl::Milliseconds(120), {{"a", kMiB, kMiB}}, ~0ull).empty());
  EXPECT_EQ(d.Decide(t0 + absl::Milliseconds(220), {{"a", kMiB, kMiB}}, ~0ull).size(), 1u);
}

TEST(PurgeDecider, MemoryLimitPurgesDirtiestFirstUntilCovered) {
  PurgeConfig c;
  c.memory_limit = 100 * kMiB;
  PurgeDecider d(c, {});
  const std::vector<ArenaLook> v = {
      {"a", 5 * kMiB, 40 * kMiB}, {"b", 30 * kMiB, 50 * kMiB}, {"c", 0, 30 * kMiB}};
  auto o = d.Decide(t0, v, ~0ull);  // 120 MiB resident: 20 MiB over, b alone covers it
  ASSERT_EQ(Ids(o), std::vector<std::string>{"b"});
  EXPECT_EQ(o[0].reason, PurgeOrder::kMemoryLimit);
  c.memory_limit = 90 * kMiB;  // 30 over: b (30) is enough
  EXPECT_EQ(Ids(PurgeDecider(c, {}).Decide(t0, v, ~0ull)), std::vector<std::string>{"b"});
  c.memory_limit = 85 * kMiB;  // 35 over: b, then a
  EXPECT_EQ(Ids(PurgeDecider(c, {}).Decide(t0, v, ~0ull)), (std::vector<std::string>{"b", "a"}));
  c.memory_limit = 200 * kMiB;
  EXPECT_TRUE(PurgeDecider(c, {}).Decide(t0, v, ~0ull).empty());
}

TEST(PurgeDecider, LowDiskSpacePurges) {
  PurgeConfig c;
  c.min_free = 64 * kMiB;
  PurgeDecider d(c, {});
  const std::vector<ArenaLook> v = {{"a", 8 * kMiB, 40 * kMiB}};
  EXPECT_TRUE(d.Decide(t0, v, 100 * kMiB).empty());
  auto o = d.Decide(t0, v, 10 * kMiB);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].reason, PurgeOrder::kLowDiskSpace);
}

TEST(PurgeDecider, FreeBytesInsideSlabsAreDirtUntilAPurgeRebasesThem) {
  PurgeConfig c;
  c.decay_ms = 100;
  PurgeDecider d(c, {});
  auto look = [&](int ms, uint64_t slab_free) {
    return d.Decide(t0 + absl::Milliseconds(ms), {{"a", 0, 64 * kMiB, slab_free}}, ~0ull);
  };
  // First sight: the baseline is 0, so all 10 MiB free inside slabs may be parkable.
  EXPECT_TRUE(look(0, 10 * kMiB).empty());
  const std::vector<PurgeOrder> o = look(150, 10 * kMiB);
  ASSERT_EQ(Ids(o), std::vector<std::string>{"a"});
  EXPECT_EQ(o[0].reason, PurgeOrder::kDecay);
  // The purge parked 6 MiB; the 4 MiB left share pages with live blocks: the new baseline,
  // never dirt however long it stays.
  for (int ms = 200; ms <= 2000; ms += 100) EXPECT_TRUE(look(ms, 4 * kMiB).empty()) << ms;
  // Less than a page more is no dirt either.
  EXPECT_TRUE(look(2100, 4 * kMiB + 3000).empty());
  EXPECT_TRUE(look(2300, 4 * kMiB + 3000).empty());
  // Allocation reuses 2 MiB of it (the baseline follows it down), then frees bring it back
  // to 4 MiB: 2 MiB new, dirty for the decay time, purged.
  EXPECT_TRUE(look(2400, 2 * kMiB).empty());
  EXPECT_TRUE(look(2500, 4 * kMiB).empty());
  EXPECT_EQ(Ids(look(2600, 4 * kMiB)), std::vector<std::string>{"a"});
  // Pressure counts it too: over the limit, the arena with grown slab free space goes first.
  PurgeConfig p;
  p.memory_limit = 100 * kMiB;
  PurgeDecider q(p, {});
  EXPECT_EQ(Ids(q.Decide(t0, {{"x", kMiB, 60 * kMiB, 0}, {"y", 0, 60 * kMiB, 8 * kMiB}}, ~0ull)),
            (std::vector<std::string>{"y", "x"}));
}

TEST(PurgeDecider, DecayUsesDefaultUnlessArenaSaysOtherwise) {
  PurgeConfig c;
  c.decay_ms = 5;
  PurgeDecider d(c, {{"x", 7}});
  EXPECT_EQ(d.DecayMsOf("x"), 7);
  EXPECT_EQ(d.DecayMsOf("y"), 5);
}

TEST(PurgeConfig, ParsedFromToml) {
  absl::StatusOr<Config> c = ParseConfig(R"(
metrics_listen = "127.0.0.1:9464"
[purge]
decay_ms = 2000
memory_limit = "1GiB"
min_free = "64MiB"
interval_ms = 50
[[arena]]
name = "fast"
capacity = "64MiB"
decay_ms = 10
)",
                                         "test");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(c->purge.decay_ms, 2000);
  EXPECT_EQ(c->purge.memory_limit, uint64_t{1} << 30);
  EXPECT_EQ(c->purge.min_free, 64 * kMiB);
  EXPECT_EQ(c->purge.interval_ms, 50);
  ASSERT_EQ(c->arenas.size(), 1u);
  EXPECT_EQ(c->arenas[0].decay_ms, 10);
  EXPECT_FALSE(ParseConfig("[purge]\ndecay_ms = -5\n", "test").ok());
  EXPECT_FALSE(ParseConfig("[purge]\nbogus = 1\n", "test").ok());
  EXPECT_FALSE(
      ParseConfig("[[arena]]\nname = \"a\"\ncapacity = 4096\ndecay_ms = \"x\"\n", "test").ok());
}

}  // namespace
}  // namespace shmpool::server
