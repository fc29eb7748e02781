#include "ctl/doctor.h"

#include <gtest/gtest.h>

#include <tuple>

namespace shmpool::ctl {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// A healthy arena: 100 MiB allocated in 110 MiB of slabs, nothing free that is backed.
v1::ArenaStats Healthy() {
  v1::ArenaStats s;
  s.set_name("arenas/a");
  s.set_capacity_bytes(1024 * kMiB);
  s.set_allocated_bytes(100 * kMiB);
  s.set_active_bytes(110 * kMiB);
  s.set_resident_bytes(112 * kMiB);
  s.set_free_in_slabs_bytes(10 * kMiB);
  s.set_cached_bytes(1 * kMiB);
  s.set_committed_bytes(111 * kMiB);
  s.set_external_fragmentation(1.0 - 100.0 / 110);
  s.set_thread_caches(2);
  s.set_attached_procs(1);
  s.add_clients();
  return s;
}

bool Has(const std::vector<Finding>& f, const std::string& check) {
  for (const Finding& x : f)
    if (x.check == check) return true;
  return false;
}

TEST(Doctor, QuarantinedArenaIsCriticalAndNothingElse) {
  v1::ArenaStats s;
  s.set_name("arenas/evil");
  s.mutable_quarantine()->set_kind("bus_error");
  s.mutable_quarantine()->set_reason("segment truncated");
  const std::vector<Finding> f = Diagnose(s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].check, "quarantined");
  EXPECT_EQ(f[0].severity, Finding::kCritical);
  EXPECT_NE(f[0].text.find("segment truncated"), std::string::npos) << f[0].text;
  EXPECT_NE(f[0].text.find("arena reset evil"), std::string::npos) << f[0].text;
}

TEST(Doctor, HealthyArenaHasNoFindings) {
  EXPECT_TRUE(Diagnose(Healthy()).empty());
  v1::GetStatsResponse r;
  *r.add_arenas() = Healthy();
  EXPECT_NE(DoctorReport(r).find("Nothing to report"), std::string::npos);
}

TEST(Doctor, HighFragmentationNamesTheNumbers) {
  v1::ArenaStats s = Healthy();
  s.set_allocated_bytes(20 * kMiB);
  s.set_free_in_slabs_bytes(90 * kMiB);
  s.set_external_fragmentation(1.0 - 20.0 / 110);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "fragmentation"));
  EXPECT_NE(f[0].text.find("82%"), std::string::npos) << f[0].text;  // 1 - 20/110
  EXPECT_NE(f[0].text.find("purge a"), std::string::npos) << f[0].text;
}

// The doctor quotes the external fragmentation `stats` prints (the same field), not a
// figure of its own: large runs in active count as they do there.
TEST(Doctor, FragmentationIsTheFigureStatsPrints) {
  v1::ArenaStats s = Healthy();
  s.set_active_bytes(20 * kMiB);
  s.set_large_allocated_bytes(8 * kMiB);
  s.set_allocated_bytes(9 * kMiB);  // 1 MiB of it in slabs: 92% of the slabs' bytes free
  s.set_free_in_slabs_bytes(11 * kMiB);
  s.set_external_fragmentation(0.55);  // 1 - 9/20
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "fragmentation"));
  EXPECT_NE(f[0].text.find("55%"), std::string::npos) << f[0].text;
  EXPECT_EQ(f[0].text.find("92%"), std::string::npos) << f[0].text;
}

// Right after a purge the free slab pages are parked (given back): the doctor says so and
// does not send the operator to purge again.
TEST(Doctor, FreshPurgeIsNotRecommendedAgain) {
  v1::ArenaStats s = Healthy();
  s.set_allocated_bytes(2 * kMiB);
  s.set_active_bytes(10 * kMiB);
  s.set_free_in_slabs_bytes(kMiB / 4);
  s.set_parked_bytes(31 * kMiB / 4);
  s.set_retained_bytes(31 * kMiB / 4);
  s.set_resident_bytes(3 * kMiB);
  s.set_external_fragmentation(0.8);
  s.set_purge_count(1);
  s.set_purges_on_demand(1);
  for (const Finding& x : Diagnose(s))
    EXPECT_EQ(x.text.find("shmpoolctl purge"), std::string::npos) << x.check << ": " << x.text;
}

// Free bytes left on pages that hold live blocks stay resident through a purge: within
// fresh_purge_seconds of one the doctor names it and recommends no other; later it does.
TEST(Doctor, PurgeRecommendedOnlyWhenTheLastOneIsNotFresh) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::ArenaStats s = Healthy();
  s.set_allocated_bytes(20 * kMiB);
  s.set_free_in_slabs_bytes(90 * kMiB);
  s.set_external_fragmentation(1.0 - 20.0 / 110);
  s.set_free_run_bytes(64 * kMiB);  // dirty: what the purgeable check counts
  s.mutable_last_purge_time()->set_seconds(1800000000 - 10);
  for (const Finding& x : Diagnose(s, {}, now))
    EXPECT_EQ(x.text.find("shmpoolctl purge"), std::string::npos) << x.check << ": " << x.text;
  const auto fresh = Diagnose(s, {}, now);
  ASSERT_TRUE(Has(fresh, "fragmentation"));
  EXPECT_NE(fresh[0].text.find("A purge ended 10s ago"), std::string::npos) << fresh[0].text;
  s.mutable_last_purge_time()->set_seconds(1800000000 - 3600);
  const auto stale = Diagnose(s, {}, now);
  ASSERT_TRUE(Has(stale, "fragmentation"));
  EXPECT_NE(stale[0].text.find("shmpoolctl purge a"), std::string::npos) << stale[0].text;
  EXPECT_TRUE(Has(stale, "purgeable"));
}

// A counter no arena can reach (a scribbled segment) is flagged, not printed as a fact.
TEST(Doctor, CountersThatCannotBeTrueAreFlagged) {
  v1::ArenaStats s = Healthy();
  s.set_nmalloc(1000);
  s.set_nfree(900);
  s.set_invalid_frees(16490153007084076054ull);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "implausible_counters"));
  for (const Finding& x : f) {
    if (x.check == "implausible_counters") {
      EXPECT_NE(x.text.find("invalid_frees"), std::string::npos) << x.text;
      continue;
    }
    EXPECT_EQ(x.text.find("16490153007084076054"), std::string::npos) << x.check << ": " << x.text;
  }
}

TEST(Doctor, SmallArenaIsNotCalledFragmented) {
  v1::ArenaStats s = Healthy();
  s.set_allocated_bytes(1 * kMiB);
  s.set_active_bytes(2 * kMiB);
  s.set_resident_bytes(3 * kMiB);
  EXPECT_FALSE(Has(Diagnose(s), "fragmentation"));
}

TEST(Doctor, MostlyEmptyClassIsNamed) {
  v1::ArenaStats s = Healthy();
  v1::SizeClassStats* c = s.add_size_classes();
  c->set_size(48);
  c->set_active_bytes(8 * kMiB);
  c->set_allocated_bytes(kMiB);
  c->set_nslabs(2048);
  v1::SizeClassStats* full = s.add_size_classes();
  full->set_size(64);
  full->set_active_bytes(8 * kMiB);
  full->set_allocated_bytes(7 * kMiB);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "empty_classes"));
  for (const Finding& x : f)
    if (x.check == "empty_classes") {
      EXPECT_NE(x.text.find("48 B (12% of 8 MiB used, 2048 slabs)"), std::string::npos) << x.text;
      EXPECT_EQ(x.text.find("64 B"), std::string::npos) << x.text;
    }
}

TEST(Doctor, QuotaNearlyReachedAndExceeded) {
  v1::ArenaStats s = Healthy();
  s.set_quota_bytes(115 * kMiB);  // 111 MiB committed: 97%
  auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "quota"));
  EXPECT_EQ(f[0].severity, Finding::kWarning);
  EXPECT_NE(f[0].text.find("97%"), std::string::npos) << f[0].text;
  s.set_quota_bytes(100 * kMiB);
  f = Diagnose(s);
  EXPECT_EQ(f[0].check, "quota");
  EXPECT_EQ(f[0].severity, Finding::kCritical);
  s.set_quota_bytes(500 * kMiB);
  EXPECT_FALSE(Has(Diagnose(s), "quota"));
  s.set_pool_bytes(400 * kMiB);  // pools are committed too: 511 of 500 MiB
  s.set_committed_bytes(511 * kMiB);
  f = Diagnose(s);
  ASSERT_TRUE(Has(f, "quota"));
  EXPECT_NE(f[0].text.find("pools 400 MiB"), std::string::npos) << f[0].text;
}

// A refusal is the quota limiting now, whatever the share.
TEST(Doctor, QuotaRefusalsAreCritical) {
  v1::ArenaStats s = Healthy();
  s.set_quota_bytes(8 * 1024 * kMiB);
  s.set_quota_refusals(3);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "quota"));
  EXPECT_EQ(f[0].severity, Finding::kCritical);
  EXPECT_NE(f[0].text.find("refused 3"), std::string::npos) << f[0].text;
}

TEST(Doctor, DeadClientLeftovers) {
  v1::ArenaStats s = Healthy();
  s.set_attached_procs(3);  // one session, three live records
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "dead_clients"));
  EXPECT_NE(f[0].text.find("3 process record(s)"), std::string::npos) << f[0].text;
  EXPECT_NE(f[0].text.find("2 client(s)"), std::string::npos) << f[0].text;
}

TEST(Doctor, CachesHoarding) {
  v1::ArenaStats s = Healthy();
  s.set_cached_bytes(30 * kMiB);
  s.set_in_ring_bytes(10 * kMiB);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "caches"));
  EXPECT_NE(f[0].text.find("40 MiB"), std::string::npos) << f[0].text;
}

TEST(Doctor, PurgeableResidentMemory) {
  v1::ArenaStats s = Healthy();
  s.set_free_run_bytes(300 * kMiB);
  s.set_retained_bytes(100 * kMiB);  // 200 MiB backed and free
  s.set_resident_bytes(312 * kMiB);
  EXPECT_EQ(PurgeableBytes(s), 200 * kMiB);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "purgeable"));
  EXPECT_NE(f[0].text.find("200 MiB"), std::string::npos) << f[0].text;
  s.set_retained_bytes(300 * kMiB);  // all purged already
  EXPECT_FALSE(Has(Diagnose(s), "purgeable"));
}

TEST(Doctor, ErrorsComeFirst) {
  v1::ArenaStats s = Healthy();
  s.set_attached_procs(2);
  s.set_double_frees(4);
  s.set_failed_allocs(7);
  const auto f = Diagnose(s);
  ASSERT_GE(f.size(), 3u);
  EXPECT_EQ(f[0].severity, Finding::kCritical);
  EXPECT_EQ(f[1].severity, Finding::kCritical);
  EXPECT_EQ(f.back().check, "dead_clients");
}

// Failed allocations with most of the arena free in classes are stranded capacity; with
// little free there, the arena is full.
TEST(Doctor, FailedAllocsTellAFullArenaFromAStrandedOne) {
  v1::ArenaStats s = Healthy();
  s.set_failed_allocs(3);
  s.set_reclaimable_bytes(300 * kMiB);
  s.set_in_ring_bytes(200 * kMiB);
  auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "failed_allocs"));
  EXPECT_NE(f[0].text.find("stranded"), std::string::npos) << f[0].text;
  EXPECT_NE(f[0].text.find("300 MiB is free in size classes"), std::string::npos) << f[0].text;
  s.set_reclaimable_bytes(2 * kMiB);
  s.set_in_ring_bytes(0);
  f = Diagnose(s);
  ASSERT_TRUE(Has(f, "failed_allocs"));
  EXPECT_NE(f[0].text.find("The arena is full"), std::string::npos) << f[0].text;
}

// A pool of 10000 objects of 2 KiB (about 20 MiB) that `peak` objects at most ever left.
v1::Pool PoolWithPeak(uint64_t peak) {
  v1::Pool p;
  p.set_name("arenas/a/pools/pkt");
  p.set_object_size(2048);
  p.set_count(10000);
  p.set_bytes(10000 * 2048);
  p.set_gets(50000);
  p.set_puts(50000 - 10);
  p.set_in_use(10);
  p.set_cached(32);
  p.set_free(10000 - 42);
  p.set_lowest_free(10000 - peak);
  return p;
}

TEST(Doctor, OversizedPoolGetsASizeItNeeds) {
  EXPECT_TRUE(DiagnosePools({PoolWithPeak(6000)}).empty()) << "60% used at the peak: fine";
  const std::vector<Finding> f = DiagnosePools({PoolWithPeak(1000)});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].check, "pool_size");
  EXPECT_NE(f[0].text.find("never had more than 1000 of its 10000 objects out at once"),
            std::string::npos)
      << f[0].text;
  EXPECT_NE(f[0].text.find("1250 objects"), std::string::npos) << f[0].text;
  v1::Pool unused = PoolWithPeak(0);
  unused.set_gets(0);
  ASSERT_EQ(DiagnosePools({unused}).size(), 1u);
  EXPECT_NE(DiagnosePools({unused})[0].text.find("never been used"), std::string::npos);
  v1::Pool small = PoolWithPeak(10);
  small.set_bytes(64 << 10);
  EXPECT_TRUE(DiagnosePools({small}).empty()) << "too small to matter";
}

TEST(Doctor, PoolThatRanDryNamesItsHolders) {
  v1::Pool p = PoolWithPeak(10000);
  p.set_in_use(9968);
  for (auto [pid, name, held] :
       {std::tuple{11, "ingest", 9000}, {12, "encoder", 968}, {13, "idle", 0}}) {
    v1::PoolHolder* h = p.add_holders();
    h->set_pid(pid);
    h->set_client_name(name);
    h->set_held(held);
  }
  const std::vector<Finding> f = DiagnosePools({p});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].check, "pool_ran_dry");
  EXPECT_EQ(f[0].severity, Finding::kWarning);
  EXPECT_NE(f[0].text.find("holders: ingest (pid 11) 9000, encoder (pid 12) 968."),
            std::string::npos)
      << f[0].text;
  // The report puts an arena's pool findings under it, and only its own.
  v1::GetStatsResponse r;
  *r.add_arenas() = Healthy();
  v1::ListPoolsResponse pools;
  *pools.add_pools() = p;
  p.set_name("arenas/b/pools/other");
  *pools.add_pools() = p;
  const std::string report = DoctorReport(r, pools);
  EXPECT_NE(report.find("Pool arenas/a/pools/pkt ran dry"), std::string::npos) << report;
  EXPECT_EQ(report.find("arenas/b/pools/other"), std::string::npos) << report;
}

TEST(Doctor, JsonHasEachArenaWithItsFindings) {
  v1::GetStatsResponse r;
  *r.add_arenas() = Healthy();
  v1::ArenaStats* evil = r.add_arenas();
  evil->set_name("arenas/evil");
  evil->mutable_quarantine()->set_kind("bus_error");
  evil->mutable_quarantine()->set_reason("a \"cut\" segment");
  EXPECT_EQ(DoctorJson(r),
            "{\"arenas\":[{\"name\":\"arenas/a\",\"allocated_bytes\":104857600,"
            "\"active_bytes\":115343360,\"resident_bytes\":117440512,"
            "\"capacity_bytes\":1073741824,\"findings\":[]},"
            "{\"name\":\"arenas/evil\",\"allocated_bytes\":0,\"active_bytes\":0,"
            "\"resident_bytes\":0,\"capacity_bytes\":0,\"findings\":[{\"severity\":\"critical\","
            "\"code\":\"quarantined\","
            "\"message\":\"the arena is quarantined (bus_error): a \\\"cut\\\" segment. The daemon "
            "no longer reads its segment; `shmpoolctl arena reset evil` gives it a fresh, empty "
            "generation (or delete it).\"}]}]}");
}

}  // namespace
}  // namespace shmpool::ctl
