// A full /dev/shm, end to end: shmpoold keeps its segments on a small tmpfs of its own
// (--shm-dir), its arena is 8 times larger than that file system, and a client attached
// through the daemon allocates until the file system is full: malloc returns NULL (never
// SIGBUS: this process would die of it), the failure is counted in the arena's stats, and
// after frees the memory is usable again. Mounts a tmpfs: needs root (CI runs as root), and
// fails, saying why, without it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "shmpool/shmpool.h"

extern char** environ;

namespace shmpool::crash {
namespace {

constexpr uint64_t kTmpfsBytes = 8 << 20;

TEST(FullShmDir, AllocationReturnsNullAndIsCountedNeverSigbus) {
  char tmpl[] = "/tmp/shmpool-fullshm-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
  const std::string dir = tmpl, shm_dir = dir + "/shm", sock = dir + "/shmpoold.sock";
  ASSERT_EQ(mkdir(shm_dir.c_str(), 0700), 0);
  const std::string opts = "size=" + std::to_string(kTmpfsBytes) + ",mode=0700";
  ASSERT_EQ(mount("tmpfs", shm_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()), 0)
      << "cannot mount a tmpfs on " << shm_dir << " (" << std::strerror(errno)
      << "): this test needs root or CAP_SYS_ADMIN";
  std::ofstream(dir + "/shmpoold.toml") << "[[arena]]\nname = \"full\"\ncapacity = \"64MiB\"\n";

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string log = dir + "/shmpoold.log";
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv = {SHMPOOLD_PATH, "--listen", "unix:" + sock,        "--shm-dir",
                                   shm_dir,       "--config", dir + "/shmpoold.toml"};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t daemon = -1;
  ASSERT_EQ(posix_spawn(&daemon, args[0], &fa, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);

  const std::string segment = shm_dir + "/shmpool.full.seg";
  shmpool_client* c = nullptr;
  int rc = -1;
  for (int i = 0; i < 300 && rc != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rc = shmpool_attach(("unix:" + sock).c_str(), "full", &c);
  }
  ASSERT_EQ(rc, 0) << shmpool_last_error();

  // Allocate and touch until NULL, large runs first, then pages' worth, then small blocks:
  // the file system fills long before the arena does.
  std::vector<void*> blocks;
  uint64_t bytes = 0;
  for (size_t n : {size_t{100000}, size_t{4096}, size_t{64}}) {
    void* p = nullptr;
    for (int i = 0; i < 200000; ++i) {
      p = shmpool_malloc(c, n);
      if (p == nullptr) break;
      std::memset(p, 0xab, n);  // a page the file does not back would raise SIGBUS here
      blocks.push_back(p);
      bytes += n;
    }
    EXPECT_EQ(p, nullptr) << n << " B: the 8 MiB file system never filled";
  }
  EXPECT_GT(bytes, kTmpfsBytes / 4) << "filled far too early";
  EXPECT_LT(bytes, uint64_t{64} << 20);
  for (size_t n : {100000, 4096, 64}) EXPECT_EQ(shmpool_malloc(c, n), nullptr) << n << " B";
  {
    auto seg = shm::Segment::Open(segment);
    ASSERT_TRUE(seg.ok()) << seg.status();
    const shm::ArenaStats st = shm::CollectStats(**seg);
    EXPECT_GE(st.failed_allocs, 6u) << "NULL returns not counted as failed allocations";
    const shm::ValidationReport v = shm::Validate(**seg);
    EXPECT_TRUE(v.ok()) << v.ToString();
  }
  // Frees give the memory back: allocation works again.
  for (void* b : blocks) shmpool_free(c, b);
  void* again = shmpool_malloc(c, 4096);
  EXPECT_NE(again, nullptr);
  shmpool_free(c, again);
  shmpool_detach(c);

  kill(daemon, SIGTERM);
  int status = 0;
  waitpid(daemon, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "shmpoold exit " << status;
  umount2(shm_dir.c_str(), MNT_DETACH);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shmpool::crash
