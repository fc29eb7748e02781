// ProcIdentity under a process that has used up its file descriptors: /proc cannot be read,
// and that says nothing about whether a process runs.
#include "shm/proc_identity.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/recovery.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

// Lowers the descriptor limit and opens descriptors until open() fails with EMFILE.
bool ExhaustDescriptors() {
  const rlimit lim{64, 64};
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  for (;;) {
    if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) return errno == EMFILE;
  }
}

// Runs `check` in a forked child whose descriptors are used up; its exit code: 0 passed,
// 1 failed, 2 could not exhaust the descriptors.
template <typename F>
int InChildWithoutDescriptors(F check) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!ExhaustDescriptors()) _exit(2);
    _exit(check() ? 0 : 1);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(ProcIdentity, SelfAndAChildThatExited) {
  const absl::StatusOr<ProcIdentity> self = ProcIdentity::Self();
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(self->Check(), Liveness::kAlive);
  ProcIdentity reused = *self;
  ++reused.start_time;  // the same pid with another start time: another process
  EXPECT_EQ(reused.Check(), Liveness::kGone);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_EQ((ProcIdentity{static_cast<uint32_t>(child), self->start_time}.Check()),
            Liveness::kGone);
}

TEST(ProcIdentity, ALiveProcessIsNotGoneWhenProcCannotBeRead) {
  const absl::StatusOr<ProcIdentity> self = ProcIdentity::Self();
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(InChildWithoutDescriptors([&] { return self->Check() != Liveness::kGone; }), 0);
  EXPECT_EQ(InChildWithoutDescriptors([] { return !ProcIdentity::Self().ok(); }), 0)
      << "a process that cannot read its own start time must not attach with a made-up one";
}

// The daemon's verdict with its descriptors used up: the live attached process (this one)
// must not be judged dead, or its caches would be reclaimed and handed out again.
TEST(ProcIdentity, ALiveClientIsNotDeadToADaemonWithoutDescriptors) {
  testing::TempSegment ts(8 << 20,
                          Geometry{.max_procs = 2, .max_thread_caches = 8, .ring_slots = 8});
  auto heap = Heap::Attach(ts.segment());
  ASSERT_TRUE(heap.ok()) << heap.status();
  const Segment& seg = *ts.segment();
  const uint32_t index = (*heap)->proc_index();
  ASSERT_FALSE(ProcessIsDead(seg, index));
  EXPECT_EQ(InChildWithoutDescriptors([&] { return !ProcessIsDead(seg, index); }), 0);
}

}  // namespace
}  // namespace shmpool::shm
