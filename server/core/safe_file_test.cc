// Tests of the daemon's file helpers: symlinks are never followed, replaced files are the
// daemon's own, and directories others could write are refused with the reason.
#include "server/core/safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gtest/gtest.h"

namespace shmpool::server {
namespace {

class SafeFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmpool-safefile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string dir_;
};

TEST_F(SafeFileTest, ReplaceFileReplacesASymlinkWithoutFollowingIt) {
  const std::string target = dir_ + "/target", link = dir_ + "/x.meta";
  std::ofstream(target) << "keep\n";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_TRUE(ReplaceFile(link, "quota_bytes = 1\n", 0600).ok());
  EXPECT_EQ(Read(target), "keep\n");
  EXPECT_EQ(Read(link), "quota_bytes = 1\n");
  struct stat st {};
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_NE(lstat((link + ".tmp").c_str(), &st), 0) << "no temporary file is left";
}

TEST_F(SafeFileTest, ReplaceFileRemovesAStaleTemporaryEvenASymlink) {
  const std::string target = dir_ + "/target", path = dir_ + "/x.meta";
  std::ofstream(target) << "keep\n";
  ASSERT_EQ(symlink(target.c_str(), (path + ".tmp").c_str()), 0);
  ASSERT_TRUE(ReplaceFile(path, "a\n", 0600).ok());
  EXPECT_EQ(Read(target), "keep\n");
  EXPECT_EQ(Read(path), "a\n");
}

TEST_F(SafeFileTest, OpenNoFollowRefusesASymlink) {
  const std::string target = dir_ + "/target", link = dir_ + "/link";
  std::ofstream(target) << "keep\n";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  absl::StatusOr<int> fd = OpenNoFollow(link, O_RDWR | O_TRUNC);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.status().message().find(link + ": is a symbolic link"), std::string::npos)
      << fd.status();
  EXPECT_EQ(Read(target), "keep\n");
}

TEST_F(SafeFileTest, ReadOwnedFileChecksOwnerModeAndType) {
  const std::string path = dir_ + "/m";
  std::ofstream(path) << "quota_bytes = 5\n";
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  absl::StatusOr<std::string> text = ReadOwnedFile(path, geteuid());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "quota_bytes = 5\n");
  absl::StatusOr<std::string> other = ReadOwnedFile(path, geteuid() + 1);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("owned by uid"), std::string::npos) << other.status();
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  absl::StatusOr<std::string> writable = ReadOwnedFile(path, geteuid());
  ASSERT_FALSE(writable.ok());
  EXPECT_NE(writable.status().message().find("writable by group or others (mode 0666)"),
            std::string::npos)
      << writable.status();
  EXPECT_FALSE(ReadOwnedFile(dir_, geteuid()).ok()) << "a directory is not a sidecar";
}

TEST_F(SafeFileTest, DevShmItselfIsRefused) {
  absl::Status st = CheckPrivateDir("/dev/shm", 0, "shm directory");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("shm directory /dev/shm is writable by group or others (mode 1777)"),
            std::string::npos)
      << st;
}

TEST_F(SafeFileTest, PreparePrivateDirCreatesAndChecks) {
  const std::string sub = dir_ + "/segments";
  const mode_t old = umask(077);
  absl::Status st = PreparePrivateDir(sub, 0755, geteuid(), "shm directory");
  umask(old);
  ASSERT_TRUE(st.ok()) << st;
  struct stat s {};
  ASSERT_EQ(stat(sub.c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0755u) << "the mode is set past the umask";
  EXPECT_TRUE(PreparePrivateDir(sub, 0755, geteuid(), "shm directory").ok()) << "it exists";
  EXPECT_FALSE(CheckPrivateDir(sub, geteuid() + 1, "shm directory").ok());
  const std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(sub.c_str(), link.c_str()), 0);
  st = CheckPrivateDir(link, geteuid(), "shm directory");
  EXPECT_NE(st.message().find("is a symbolic link"), std::string::npos) << st;
}

}  // namespace
}  // namespace shmpool::server
