#include "ctl/doctor.h"

#include <gtest/gtest.h>

namespace shmpool::ctl {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// A healthy arena: 100 MiB allocated in 110 MiB of slabs, nothing free that is backed.
v1::ArenaStats Healthy() {
  v1::ArenaStats s;
  s.set_name("arenas/a");
  s.set_capacity(1024 * kMiB);
  s.set_allocated(100 * kMiB);
  s.set_active(110 * kMiB);
  s.set_resident(112 * kMiB);
  s.set_free_in_slabs(10 * kMiB);
  s.set_cached(1 * kMiB);
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

TEST(Doctor, HealthyArenaHasNoFindings) {
  EXPECT_TRUE(Diagnose(Healthy()).empty());
  v1::GetStatsResponse r;
  *r.add_arenas() = Healthy();
  EXPECT_NE(DoctorReport(r).find("Nothing to report"), std::string::npos);
}

TEST(Doctor, HighFragmentationNamesTheNumbers) {
  v1::ArenaStats s = Healthy();
  s.set_allocated(20 * kMiB);
  s.set_free_in_slabs(90 * kMiB);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "fragmentation"));
  EXPECT_NE(f[0].text.find("82%"), std::string::npos) << f[0].text;  // 1 - 20/110
  EXPECT_NE(f[0].text.find("purge a"), std::string::npos) << f[0].text;
}

TEST(Doctor, SmallArenaIsNotCalledFragmented) {
  v1::ArenaStats s = Healthy();
  s.set_allocated(1 * kMiB);
  s.set_active(2 * kMiB);
  s.set_resident(3 * kMiB);
  EXPECT_FALSE(Has(Diagnose(s), "fragmentation"));
}

TEST(Doctor, MostlyEmptyClassIsNamed) {
  v1::ArenaStats s = Healthy();
  v1::SizeClassStats* c = s.add_size_classes();
  c->set_size(48);
  c->set_active(8 * kMiB);
  c->set_allocated(kMiB);
  c->set_nslabs(2048);
  v1::SizeClassStats* full = s.add_size_classes();
  full->set_size(64);
  full->set_active(8 * kMiB);
  full->set_allocated(7 * kMiB);
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
  s.set_quota(115 * kMiB);  // 111 MiB used: 97%
  auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "quota"));
  EXPECT_EQ(f[0].severity, Finding::kWarning);
  EXPECT_NE(f[0].text.find("97%"), std::string::npos) << f[0].text;
  s.set_quota(100 * kMiB);
  f = Diagnose(s);
  EXPECT_EQ(f[0].check, "quota");
  EXPECT_EQ(f[0].severity, Finding::kCritical);
  s.set_quota(500 * kMiB);
  EXPECT_FALSE(Has(Diagnose(s), "quota"));
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
  s.set_cached(30 * kMiB);
  s.set_in_ring(10 * kMiB);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "caches"));
  EXPECT_NE(f[0].text.find("40 MiB"), std::string::npos) << f[0].text;
}

TEST(Doctor, PurgeableResidentMemory) {
  v1::ArenaStats s = Healthy();
  s.set_free_run_bytes(300 * kMiB);
  s.set_retained(100 * kMiB);  // 200 MiB backed and free
  s.set_resident(312 * kMiB);
  EXPECT_EQ(PurgeableBytes(s), 200 * kMiB);
  const auto f = Diagnose(s);
  ASSERT_TRUE(Has(f, "purgeable"));
  EXPECT_NE(f[0].text.find("200 MiB"), std::string::npos) << f[0].text;
  s.set_retained(300 * kMiB);  // all purged already
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

}  // namespace
}  // namespace shmpool::ctl
