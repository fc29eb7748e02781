#include "ctl/stats_view.h"

#include <gtest/gtest.h>

#include <sstream>

#include "ctl/json.h"

namespace shmpool::ctl {
namespace {

// An arena with nothing allocated: its ratios are undefined, shown as n/a and null.
v1::ArenaStats Empty() {
  v1::ArenaStats s;
  s.set_name("arenas/a");
  s.set_capacity_bytes(64 << 20);
  s.set_active_bytes(1 << 20);
  s.set_resident_bytes(3 << 20);
  return s;
}

TEST(StatsView, UndefinedRatiosAreNotApplicable) {
  std::ostringstream out;
  PrintStats(Empty(), out);
  for (const char* ratio : {"external_fragmentation", "internal_fragmentation", "rss_ratio"}) {
    const size_t at = out.str().find(ratio);
    ASSERT_NE(at, std::string::npos) << ratio << "\n" << out.str();
    EXPECT_EQ(out.str().substr(at + std::string(ratio).size()).find_first_not_of(' '),
              out.str().substr(at + std::string(ratio).size()).find("n/a"))
        << ratio << "\n"
        << out.str();
  }
  const std::string json = ToJson(Empty());
  EXPECT_NE(json.find("\"rss_ratio\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"external_fragmentation\":null"), std::string::npos) << json;
}

TEST(StatsView, EveryDeclaredFieldIsInTheTableByItsJsonName) {
  v1::ArenaStats s = Empty();
  s.set_allocated_bytes(1 << 20);
  s.set_rss_ratio(3);
  std::ostringstream out;
  PrintStats(s, out);
  for (const char* field : {"capacity_bytes", "allocated_bytes", "quota_refusals",
                            "reclaimed_procs", "committed_bytes", "purge_time"})
    EXPECT_NE(out.str().find(field), std::string::npos) << field << "\n" << out.str();
  EXPECT_NE(out.str().find("3.000"), std::string::npos) << out.str();
  EXPECT_NE(ToJson(s).find("\"capacity_bytes\":67108864"), std::string::npos) << ToJson(s);
}

}  // namespace
}  // namespace shmpool::ctl
