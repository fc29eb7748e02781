// Tests of an arena's files: the .meta round trip, and which segment files are adopted.
#include "server/arena_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/safe_file.h"

namespace shmpool::server {
namespace {

class ArenaFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/shmpool-files-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    shm::Geometry g;
    g.capacity = 1 << 20;
    g.max_procs = 4;
    g.max_thread_caches = 4;
    ASSERT_TRUE(shm::Segment::Create(seg_ = dir_ + "/shmpool.a.seg", g).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  ArenaMeta Own() const { return {.quota_bytes = 0, .uid = geteuid(), .gid = getegid()}; }
  std::string dir_, seg_;
};

TEST_F(ArenaFilesTest, MetaRoundTrip) {
  const std::string meta = dir_ + "/shmpool.a.meta";
  ASSERT_TRUE(ReplaceFile(meta, FormatMeta({.quota_bytes = 5, .uid = 7, .gid = 8}), 0600).ok());
  absl::StatusOr<ArenaMeta> m = ReadMeta(meta);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->quota_bytes, 5u);
  EXPECT_EQ(m->uid, 7u);
  EXPECT_EQ(m->gid, 8u);
  ASSERT_TRUE(ReplaceFile(meta, "quota_bytes = 9\n", 0600).ok());
  m = ReadMeta(meta);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->uid, geteuid()) << "a sidecar without owner lines records the daemon's";
  ASSERT_TRUE(ReplaceFile(meta, "owner_uid = 1\n", 0600).ok());
  EXPECT_FALSE(ReadMeta(meta).ok()) << "no quota line";
  ASSERT_TRUE(ReplaceFile(meta, "quota_bytes = x\n", 0600).ok());
  EXPECT_FALSE(ReadMeta(meta).ok());
}

TEST_F(ArenaFilesTest, AdoptsOnlyWhatTheDaemonMade) {
  EXPECT_TRUE(OpenArenaSegment(seg_, Own()).ok()) << "mode 0600, the daemon's";
  ASSERT_EQ(chmod(seg_.c_str(), 0660), 0);
  EXPECT_TRUE(OpenArenaSegment(seg_, Own()).ok()) << "mode 0660, shared";
  ASSERT_EQ(chmod(seg_.c_str(), 0666), 0);
  absl::StatusOr<std::unique_ptr<shm::Segment>> s = OpenArenaSegment(seg_, Own());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("mode 0666"), std::string::npos) << s.status();
  ASSERT_EQ(chmod(seg_.c_str(), 0600), 0);
  ArenaMeta other = Own();
  other.uid += 1;
  s = OpenArenaSegment(seg_, other);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("its .meta records uid"), std::string::npos) << s.status();
  const std::string link = dir_ + "/shmpool.b.seg";
  ASSERT_EQ(symlink(seg_.c_str(), link.c_str()), 0);
  s = OpenArenaSegment(link, Own());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("is a symbolic link"), std::string::npos) << s.status();
  const std::string junk = dir_ + "/shmpool.c.seg";
  std::ofstream(junk) << std::string(8192, 'x');
  ASSERT_EQ(chmod(junk.c_str(), 0600), 0);
  s = OpenArenaSegment(junk, Own());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << "ours, but not valid";
}

}  // namespace
}  // namespace shmpool::server
