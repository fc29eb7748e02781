// `shmpoolctl segments list|remove` on segment files whose daemon is gone: list shows each
// file's arena, whether it validates, and its live and dead attached processes; remove
// refuses while a process is alive unless --force, and removes a segment whose processes
// are all dead; retired generations of reset arenas are listed and removable too.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/segment.h"

namespace shmpool::crash {
namespace {

struct Result {
  int status;
  std::string out;
};

Result Ctl(const std::string& args) {
  const std::string cmd = std::string(SHMPOOLCTL_PATH) + " " + args + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  const int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A child attached to `path` that waits to be killed.
pid_t AttachedChild(const std::string& path, int ready[2]) {
  const pid_t pid = fork();
  if (pid == 0) {
    auto seg = shm::Segment::Open(path);
    if (!seg.ok()) _exit(2);
    auto heap = shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)));
    if (!heap.ok()) _exit(3);
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
  }
  char c;
  EXPECT_EQ(read(ready[0], &c, 1), 1);
  return pid;
}

TEST(SegmentsCli, ListShowsProcessesAndRemoveRefusesLiveOnes) {
  char tmpl[] = "/dev/shm/shmpool-segcli-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/shmpool.orphan.seg";
  shm::Geometry g;
  g.capacity = 1 << 20;
  ASSERT_TRUE(shm::Segment::Create(path, g).ok());
  std::ofstream(dir + "/shmpool.junk.seg") << "not a segment";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t live = AttachedChild(path, ready);
  const pid_t doomed = AttachedChild(path, ready);
  kill(doomed, SIGKILL);
  waitpid(doomed, nullptr, 0);

  Result r = Ctl("segments list --shm-dir " + dir + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\"arena\":\"orphan\",\"valid\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"live_pids\":[" + std::to_string(live) + "]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"dead_pids\":[" + std::to_string(doomed) + "]"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"arena\":\"junk\",\"valid\":false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"daemon_running\":false"), std::string::npos) << r.out;
  r = Ctl("segments list --shm-dir " + dir);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("orphan"), std::string::npos) << r.out;

  r = Ctl("segments remove " + path);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("live process"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(path));

  kill(live, SIGKILL);
  waitpid(live, nullptr, 0);
  r = Ctl("segments remove " + path);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_FALSE(std::filesystem::exists(path));
  r = Ctl("segments remove " + dir + "/shmpool.junk.seg");
  EXPECT_EQ(r.status, 0) << r.out;
  r = Ctl("segments remove " + dir + "/not-a-segment");
  EXPECT_EQ(r.status, 2) << r.out;
  std::filesystem::remove_all(dir);
}

TEST(SegmentsCli, ForceRemovesDespiteLiveProcesses) {
  char tmpl[] = "/dev/shm/shmpool-segcli-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/shmpool.busy.seg";
  shm::Geometry g;
  g.capacity = 1 << 20;
  ASSERT_TRUE(shm::Segment::Create(path, g).ok());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t live = AttachedChild(path, ready);
  Result r = Ctl("segments remove " + path + " --force");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_FALSE(std::filesystem::exists(path));
  kill(live, SIGKILL);
  waitpid(live, nullptr, 0);
  std::filesystem::remove_all(dir);
}

// An arena reset leaves its old generation as shmpool.NAME.seg.retired-N while processes
// map it; after a daemon's death such files are listed, with their generations, and can
// be removed like any segment file.
TEST(SegmentsCli, RetiredGenerationsAreListedAndRemovable) {
  char tmpl[] = "/dev/shm/shmpool-segcli-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string current = dir + "/shmpool.reset.seg";
  const std::string retired = dir + "/shmpool.reset.seg.retired-0";
  shm::Geometry g;
  g.capacity = 1 << 20;
  auto seg = shm::Segment::Create(current, g);
  ASSERT_TRUE(seg.ok()) << seg.status();
  (*seg)->header().generation.number = 1;
  seg = shm::Segment::Create(retired, g);
  ASSERT_TRUE(seg.ok()) << seg.status();
  (*seg)->header().generation.xretired_by.store(1);
  seg->reset();

  Result r = Ctl("segments list --shm-dir " + dir + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("{\"path\":\"" + retired +
                       "\",\"arena\":\"reset\",\"valid\":true,\"validation\":\"ok\","
                       "\"capacity_bytes\":1048576,\"generation\":0,\"retired_by\":1,"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"generation\":1,\"retired_by\":0,"), std::string::npos) << r.out;
  r = Ctl("segments list --shm-dir " + dir);
  EXPECT_NE(r.out.find("0 (retired by 1)"), std::string::npos) << r.out;

  r = Ctl("segments remove " + retired);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_FALSE(std::filesystem::exists(retired));
  EXPECT_TRUE(std::filesystem::exists(current));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shmpool::crash
