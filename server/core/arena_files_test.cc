// Tests of an arena's files: the .meta round trip, which segment files are adopted, and the
// header check against the geometry the .meta records.
#include "server/core/arena_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/core/safe_file.h"

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

TEST_F(ArenaFilesTest, MetaRecordsTheGeometry) {
  const std::string meta = dir_ + "/shmpool.a.meta";
  shm::Geometry g;
  g.capacity = 1 << 20;
  g.max_procs = 4;
  g.max_thread_caches = 8;
  g.ring_slots = 32;
  ASSERT_TRUE(ReplaceFile(meta, FormatMeta({.quota_bytes = 5, .geometry = g}), 0600).ok());
  absl::StatusOr<ArenaMeta> m = ReadMeta(meta);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->geometry.has_value());
  EXPECT_EQ(m->geometry->capacity, g.capacity);
  EXPECT_EQ(m->geometry->max_procs, 4u);
  EXPECT_EQ(m->geometry->max_thread_caches, 8u);
  EXPECT_EQ(m->geometry->ring_slots, 32u);
  ASSERT_TRUE(ReplaceFile(meta, "quota_bytes = 1\n", 0600).ok());
  m = ReadMeta(meta);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->geometry.has_value()) << "an older daemon's sidecar";
  ASSERT_TRUE(ReplaceFile(meta, "quota_bytes = 1\ncapacity = 4096\n", 0600).ok());
  EXPECT_FALSE(ReadMeta(meta).ok()) << "part of the geometry";
  ASSERT_TRUE(ReplaceFile(meta,
                          "quota_bytes = 1\ncapacity = 4096\nmax_procs = 4294967296\n"
                          "max_thread_caches = 1\nring_slots = 64\n",
                          0600)
                  .ok());
  EXPECT_FALSE(ReadMeta(meta).ok()) << "max_procs past 32 bits";
}

TEST_F(ArenaFilesTest, MapsOnlyTheGeometryTheMetaRecords) {
  shm::Geometry g;
  g.capacity = 1 << 20;
  g.max_procs = 4;
  g.max_thread_caches = 4;
  ArenaMeta meta = Own();
  meta.geometry = g;
  EXPECT_TRUE(OpenArenaSegment(seg_, meta).ok());
  meta.geometry->capacity = 1 << 19;
  absl::StatusOr<std::unique_ptr<shm::Segment>> s = OpenArenaSegment(seg_, meta);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("segment says capacity 1048576, the daemon created 524288"),
            std::string::npos)
      << s.status();
  meta.geometry = g;
  meta.geometry->max_procs = 8;
  s = OpenArenaSegment(seg_, meta);
  EXPECT_NE(s.status().message().find("segment says max_procs 4, the daemon created 8"),
            std::string::npos)
      << s.status();
  const int fd = open(seg_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const uint32_t version = 99;
  ASSERT_EQ(pwrite(fd, &version, sizeof version, offsetof(shm::SegmentHeader, layout_version)),
            static_cast<ssize_t>(sizeof version));
  absl::StatusOr<shm::Geometry> header = CheckSegmentHeader(fd, Own());
  close(fd);
  EXPECT_NE(header.status().message().find("layout version 99"), std::string::npos)
      << header.status();
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
