#include "proto/stat_fields.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "shm/layout.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::api {
namespace {

// Every counter the segment exports lands in the ArenaStats field of its name, which
// declares how it is shown.
TEST(StatFields, EveryExportedCounterHasItsDeclaredField) {
  std::set<std::string> seen;
  for (const shm::ExportedCounter& c : shm::kExportedCounters) {
    EXPECT_TRUE(seen.insert(c.field).second) << "twice: " << c.field;
    v1::ArenaStats s;
    EXPECT_TRUE(SetCounter(s, c.field, 1500000000)) << c.field;
    const auto* f = v1::ArenaStats::descriptor()->FindFieldByName(c.field);
    ASSERT_NE(f, nullptr) << c.field;
    EXPECT_TRUE(f->options().HasExtension(v1::stat)) << c.field << " declares no (stat)";
    const std::optional<double> v = StatValue(s, f);
    ASSERT_TRUE(v.has_value()) << c.field;
    EXPECT_EQ(*v, f->message_type() ? 1.5 : 1500000000.0) << c.field;
  }
}

TEST(StatFields, FamiliesAreWellFormed) {
  for (const google::protobuf::Descriptor* d :
       {v1::ArenaStats::descriptor(), v1::SizeClassStats::descriptor(),
        v1::ClientStats::descriptor(), v1::ClientClassStats::descriptor(),
        v1::ClientPoolStats::descriptor()})
    for (const StatField& f : StatFields(d)) {
      const std::string& m = f.stat->metric();
      EXPECT_FALSE(f.stat->help().empty()) << f.field->full_name();
      if (m.empty()) continue;
      EXPECT_EQ(m.rfind("shmpool_", 0), 0u) << m;
      const bool total = m.size() > 6 && m.compare(m.size() - 6, 6, "_total") == 0;
      EXPECT_EQ(total, f.stat->kind() == v1::Stat::COUNTER) << m;
      if (f.stat->unit() == v1::Stat::RATIO) {
        EXPECT_TRUE(f.field->has_presence()) << m << ": a ratio is optional (null if undefined)";
      }
    }
}

TEST(StatFields, UnsetRatioHasNoValue) {
  v1::ArenaStats s;
  const auto* f = v1::ArenaStats::descriptor()->FindFieldByName("rss_ratio");
  EXPECT_FALSE(StatValue(s, f).has_value());
  s.set_rss_ratio(0);
  ASSERT_TRUE(StatValue(s, f).has_value());
  EXPECT_EQ(*StatValue(s, f), 0.0);
}

}  // namespace
}  // namespace shmpool::api
