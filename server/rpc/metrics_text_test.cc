#include "server/rpc/metrics_text.h"

#include <gtest/gtest.h>

#include <sstream>

namespace shmpool::server {
namespace {

v1::GetStatsResponse Sample() {
  v1::GetStatsResponse r;
  v1::ArenaStats* a = r.add_arenas();
  a->set_name("arenas/video");
  a->set_allocated(12345);
  a->set_nmalloc(7);
  a->set_reclaimable(6789);
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
  k->set_cached(4096);
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
  EXPECT_NE(m.find("# TYPE shmpool_arena_allocations_total counter\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_allocations_total{arena=\"video\"} 7\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_reclaimable_bytes{arena=\"video\"} 6789\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_external_fragmentation_ratio{arena=\"video\"} 0.25\n"),
            std::string::npos);
  EXPECT_NE(m.find("shmpool_arena_purge_seconds_total{arena=\"video\"} 1.5\n"), std::string::npos);
  EXPECT_NE(m.find("shmpool_class_slabs{arena=\"video\",class=\"4\",size=\"48\"} 3\n"),
            std::string::npos);
  const std::string client =
      "arena=\"video\",session=\"sessions/1\",client=\"we\\\"ird\\\\name\",pid=\"42\","
      "uid=\"1001\"";
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
  q->set_capacity(1 << 20);
  q->mutable_quarantine()->set_kind("bus_error");
  const std::string text = FormatMetrics(r);
  EXPECT_NE(text.find("shmpool_arena_quarantined{arena=\"evil\",reason=\"bus_error\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("shmpool_arena_capacity_bytes{arena=\"evil\"}"), std::string::npos) << text;
}

TEST(MetricsText, EscapesLabelValues) { EXPECT_EQ(EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

}  // namespace
}  // namespace shmpool::server
