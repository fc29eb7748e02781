#include "server/core/process_prober.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace shmpool::server {
namespace {

TEST(KernelProber, ThisProcessIsAliveAndAReapedChildIsGone) {
  const ProcessProber& p = KernelProber();
  absl::StatusOr<shm::ProcIdentity> self = shm::ProcIdentity::Self();
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(p.Check(*self), shm::Liveness::kAlive);
  EXPECT_EQ(p.CheckPid(getpid()), shm::Liveness::kAlive);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_TRUE(p.PidGone(child));
  EXPECT_TRUE(p.KnownGone({static_cast<uint32_t>(child), self->start_time}));
}

TEST(KernelProber, ALivePidWithAnotherStartTimeIsGone) {
  absl::StatusOr<shm::ProcIdentity> self = shm::ProcIdentity::Self();
  ASSERT_TRUE(self.ok());
  EXPECT_TRUE(KernelProber().KnownGone({self->pid, self->start_time + 1})) << "a reused pid";
  EXPECT_EQ(KernelProber().CheckPid(0), shm::Liveness::kUnknown) << "not a process";
}

}  // namespace
}  // namespace shmpool::server
