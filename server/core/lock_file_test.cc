#include "server/core/lock_file.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace shmpool::server {
namespace {

class LockFileTest : public ::testing::Test {
 protected:
  LockFileTest() {
    char tmpl[] = "/tmp/shmpool-lock-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/d.lock";
  }
  ~LockFileTest() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(LockFileTest, ASecondHolderIsRefusedNamingTheFirst) {
  absl::StatusOr<std::unique_ptr<LockFile>> first = LockFile::Acquire(path_, "the socket");
  ASSERT_TRUE(first.ok()) << first.status();
  std::string pid;
  std::getline(std::ifstream(path_), pid);
  EXPECT_EQ(pid, std::to_string(getpid()));
  const absl::Status st = LockFile::Acquire(path_, "the socket").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find(std::to_string(getpid())), std::string::npos) << st;
}

TEST_F(LockFileTest, ReleasedWhenTheHolderGoes) {
  ASSERT_TRUE(LockFile::Acquire(path_, "x").ok());  // destroyed at once
  EXPECT_TRUE(LockFile::Acquire(path_, "x").ok());
}

}  // namespace
}  // namespace shmpool::server
