// ChildrenHungAtExit: forks children that exit at once with exit() (which runs the forking
// thread's thread_local destructors, the libraries' exit hooks among them) and counts those
// that did not finish within 5 s. A test runs it while another thread takes and releases
// a library mutex, to show that no exit hook waits for a mutex the fork copied locked.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace shmpool::testing {

// Set in the children: LeakSanitizer's exit-time check (ASan builds) is off there. It runs
// after the exit hooks under test, and in a child of a multi-threaded parent it can neither
// suspend the parent's other threads nor account for their objects: it would report or hang.
inline bool in_forked_child = false;

}  // namespace shmpool::testing

#if defined(__SANITIZE_ADDRESS__)
extern "C" __attribute__((used)) inline int __lsan_is_turned_off() {
  return shmpool::testing::in_forked_child;
}
#endif

namespace shmpool::testing {

inline int ChildrenHungAtExit() {
#if defined(__SANITIZE_THREAD__)
  constexpr int kForks = 10;  // a fork under TSan takes about a second
#else
  constexpr int kForks = 100;
#endif
  int hung = 0;
  for (int i = 0; i < kForks; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      in_forked_child = true;
      alarm(5);  // a child stuck on a mutex dies of SIGALRM
      std::exit(0);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    hung += WIFSIGNALED(status);
  }
  return hung;
}

}  // namespace shmpool::testing
