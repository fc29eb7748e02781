#include "server/rpc/metrics_text.h"

#include <gtest/gtest.h>

#include <sstream>

#include "absl/strings/str_cat.h"

namespace shmpool::server {
namespace {

v1::GetStatsResponse Sample() {
  v1::GetStatsResponse r;
  v1::ArenaStats* a = r.add_arenas();
  a->set_name("arenas/video");
  a->set_allocated_bytes(12345);
  a->set_nmalloc(7);
  a->set_reclaimable_bytes(6789);
  a->set_external_fragmentation(0.25);
  a->mutable_purge_time()->set_seconds(1);
  a->mutable_purge_time()->set_nanos(500000000);
  v1::SizeClassStats* c = a->add_size_classes();
  c->set_size_class(4);
  c->set_size(48);
  c->set_nslabs(3);
  v1::ClientStats* k = a->add_clients();
  k->mutable_session()->set_name("sessions/1");
  k->mutable_session()->set_client_name("we\"ird\\name");
  k->mutable_session()->set_pid(42);
  k->mutable_session()->set_uid(1001);
  k->set_cached_bytes(4096);
  k->set_net_bytes(-480);
  v1::ClientClassStats* kc = k->add_size_classes();
  kc->set_size_class(4);
  kc->set_size(48);
  kc->set_net(-10);
  v1::ClientPoolStats* kp = k->add_pools();
  kp->set_pool("arenas/video/pools/pkt");
  kp->set_held(7);
  r.add_arenas()->set_name("arenas/b");
  return r;
}

TEST(MetricsText, ArenaGaugesAndCountersCarryTheirLabels) {
  const std::string m = FormatMetrics(Sample());
  EXPECT_NE(m.find("shmpool_arena_allocated_bytes{arena=\"video\"} 12345\n"), std::string::npos)
      << m;
  EXPECT_NE(m.find("shmpool_arena_allocated_bytes{arena=\"b\"} 0\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_purges_total{arena=\"video\",reason=\"decay\"} 0\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("# TYPE shmpool_arena_allocations_total counter\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_allocations_total{arena=\"video\"} 7\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_reclaimable_bytes{arena=\"video\"} 6789\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_external_fragmentation_ratio{arena=\"video\"} 0.25\n"),
            std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_purge_seconds_total{arena=\"video\"} 1.5\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_class_slabs{arena=\"video\",class=\"4\",size=\"48\"} 3\n"),
            std::string::npos);
  const std::string client = "arena=\"video\",client=\"we\\\"ird\\\\name\"";
  EXPECT_NE(m.find("shmpool_client_cached_bytes{" + client + "} 4096\n"), std::string::npos) << m;
  EXPECT_NE(m.find("shmpool_client_net_bytes{" + client + "} -480\n"), std::string::npos) << m;
  EXPECT_NE(m.find("shmpool_client_class_net_blocks{" + client + ",class=\"4\",size=\"48\"} -10\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("shmpool_client_pool_held_objects{" + client +
                   ",pool=\"arenas/video/pools/pkt\"} 7\n"),
            std::string::npos)
      << m;
}

TEST(MetricsText, EachFamilyHasOneHelpAndTypeBeforeItsSamples) {
  std::istringstream in(FormatMetrics(Sample()));
  std::string line, family;
  std::map<std::string, int> types;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      ++types[family];
      continue;
    }
    if (line.rfind("#", 0) == 0) continue;
    const std::string name = line.substr(0, line.find('{'));
    EXPECT_EQ(name, family) << "sample outside its family: " << line;
    const bool counter = name.size() > 6 && name.substr(name.size() - 6) == "_total";
    EXPECT_TRUE(counter || name.find("_total") == std::string::npos) << name;
  }
  for (const auto& [f, n] : types) EXPECT_EQ(n, 1) << f;
  EXPECT_GT(types.size(), 30u);
}

TEST(MetricsText, QuarantinedArenaHasItsGaugeAndNoOtherSeries) {
  v1::GetStatsResponse r = Sample();
  v1::ArenaStats* q = r.add_arenas();
  q->set_name("arenas/evil");
  q->set_capacity_bytes(1 << 20);
  q->mutable_quarantine()->set_kind("bus_error");
  const std::string text = FormatMetrics(r);
  EXPECT_NE(text.find("shmpool_arena_quarantined{arena=\"evil\",reason=\"bus_error\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("shmpool_arena_capacity_bytes{arena=\"evil\"}"), std::string::npos) << text;
}

// Two sessions of one client name, in an arena with nothing allocated.
v1::GetStatsResponse TwoSessions() {
  v1::GetStatsResponse r;
  v1::ArenaStats* a = r.add_arenas();
  a->set_name("arenas/video");
  for (uint32_t pid : {41, 42}) {
    v1::ClientStats* k = a->add_clients();
    k->mutable_session()->set_name(absl::StrCat("sessions/", pid));
    k->mutable_session()->set_client_name("encoder");
    k->mutable_session()->set_pid(pid);
    k->set_nmalloc(10);
    k->set_nfree(4);
  }
  return r;
}

std::string Metrics(const v1::GetStatsResponse& r) {
  return FormatMetrics(r, {.per_client = true, .version = "1.2.3"});
}

TEST(MetricsText, ClientCountsAreCounters) {
  const std::string m = Metrics(TwoSessions());
  EXPECT_NE(m.find("# TYPE shmpool_client_allocations_total counter\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE shmpool_client_frees_total counter\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("# TYPE shmpool_client_allocations gauge"), std::string::npos) << m;
}

TEST(MetricsText, ClientSeriesAreKeyedByClientName) {
  const std::string m = Metrics(TwoSessions());
  EXPECT_EQ(m.find("pid=\""), std::string::npos) << m;
  EXPECT_EQ(m.find("session=\""), std::string::npos) << m;
  EXPECT_NE(m.find("shmpool_client_allocations_total{arena=\"video\",client=\"encoder\"} 20\n"),
            std::string::npos)
      << m;
  const std::string off = FormatMetrics(TwoSessions(), {.per_client = false});
  EXPECT_EQ(off.find("client=\""), std::string::npos) << off;
  EXPECT_NE(off.find("# TYPE shmpool_client_allocations_total counter\n"), std::string::npos);
}

TEST(MetricsText, BuildInfoAndReclaimSessionRefusalCounters) {
  const std::string m = Metrics(TwoSessions());
  EXPECT_NE(m.find("shmpool_build_info{version=\"1.2.3\"} 1\n"), std::string::npos) << m;
  for (const char* family :
       {"shmpool_arena_reclaimed_processes_total", "shmpool_arena_sessions_opened_total",
        "shmpool_arena_quota_refusals_total"})
    EXPECT_NE(m.find(absl::StrCat("# TYPE ", family, " counter\n")), std::string::npos) << family;
}

TEST(MetricsText, UndefinedRatiosHaveNoSample) {
  v1::GetStatsResponse r = TwoSessions();  // nothing allocated, nothing handed out
  const std::string m = Metrics(r);
  for (const char* family :
       {"shmpool_arena_rss_ratio", "shmpool_arena_external_fragmentation_ratio",
        "shmpool_arena_internal_fragmentation_ratio"}) {
    EXPECT_NE(m.find(absl::StrCat("# TYPE ", family, " gauge\n")), std::string::npos) << family;
    EXPECT_EQ(m.find(absl::StrCat(family, "{arena=\"video\"}")), std::string::npos) << m;
  }
  r.mutable_arenas(0)->set_rss_ratio(26697);
  EXPECT_NE(Metrics(r).find("shmpool_arena_rss_ratio{arena=\"video\"} 26697\n"), std::string::npos);
}

TEST(MetricsText, EscapesLabelValues) { EXPECT_EQ(EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

}  // namespace
}  // namespace shmpool::server
