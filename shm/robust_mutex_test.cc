// RobustMutex inside an UntrustedScope: a mutex that a live process holds ends in
// SegmentFault(kLockTimeout) after the scope's deadline; a mutex whose bytes were
// overwritten ends in kCorrupt; RobustLock releases on unwind and never throws while
// unwinding.
#include "shm/robust_mutex.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "gtest/gtest.h"
#include "shm/untrusted.h"

namespace shmpool::shm {
namespace {

using std::chrono::milliseconds;

// A RobustMutex in an anonymous shared mapping, as in a segment.
class SharedMutex {
 public:
  SharedMutex() {
    mem_ = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(mem_, MAP_FAILED);
    get().Init();
  }
  ~SharedMutex() { munmap(mem_, 4096); }
  RobustMutex& get() { return *static_cast<RobustMutex*>(mem_); }
  void Scribble(unsigned char byte) { std::memset(mem_, byte, sizeof(pthread_mutex_t)); }

 private:
  void* mem_;
};

SegmentFault::Kind LockFault(RobustMutex& m) {
  try {
    m.Lock();
  } catch (const SegmentFault& f) {
    return f.kind();
  }
  ADD_FAILURE() << "Lock() did not throw";
  return SegmentFault::Kind::kBusError;
}

TEST(RobustMutexUntrusted, HeldByALiveProcessTimesOutAfterTheDeadline) {
  SharedMutex m;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    m.get().Lock();
    const char c = 1;
    (void)!write(ready[1], &c, 1);
    for (;;) pause();
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  {
    UntrustedScope scope(milliseconds(200));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(LockFault(m.get()), SegmentFault::Kind::kLockTimeout);
    const auto waited =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_GE(waited.count(), 195);
    EXPECT_LT(waited.count(), 1000);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  // The holder is dead now: the next locker gets the mutex, to repair.
  UntrustedScope scope(milliseconds(200));
  EXPECT_EQ(m.get().Lock(), RobustMutex::LockResult::kOwnerDied);
  m.get().MarkConsistent();
  m.get().Unlock();
}

TEST(RobustMutexUntrusted, ScribbledMutexIsCorrupt) {
  for (const unsigned char byte : {0x00, 0xa5, 0xff, 0x01}) {
    SharedMutex m;
    m.Scribble(byte);
    UntrustedScope scope(milliseconds(200));
    EXPECT_EQ(LockFault(m.get()), SegmentFault::Kind::kCorrupt) << "byte " << int{byte};
  }
}

TEST(RobustMutexUntrusted, NotRecoverableMutexIsCorrupt) {
  SharedMutex m;
  {
    UntrustedScope scope(milliseconds(200));
    using Lock = RobustLock<void (*)()>;
    // A dead owner whose repair throws: the mutex is unlocked, never marked consistent.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      m.get().Lock();
      _exit(0);
    }
    waitpid(child, nullptr, 0);
    EXPECT_THROW(Lock(m.get(), [] { throw SegmentFault(SegmentFault::Kind::kCorrupt, "repair"); }),
                 SegmentFault);
    EXPECT_EQ(LockFault(m.get()), SegmentFault::Kind::kCorrupt);
  }
}

TEST(RobustMutexUntrusted, RobustLockReleasesOnUnwind) {
  SharedMutex m;
  UntrustedScope scope(milliseconds(200));
  try {
    RobustLock lock(m.get(), [] {});
    throw std::runtime_error("inside");
  } catch (const std::runtime_error&) {
  }
  RobustMutex::LockResult r;
  ASSERT_TRUE(m.get().TryLock(&r));
  m.get().Unlock();
}

TEST(RobustMutexUntrusted, FailedUnlockThrowsUnlessUnwinding) {
  SharedMutex m;
  UntrustedScope scope(milliseconds(200));
  // Overwritten while held (a fresh mutex: no owner), so unlocking fails with EPERM.
  EXPECT_THROW(
      {
        RobustLock lock(m.get(), [] {});
        m.get().Init();
      },
      SegmentFault);
  // The same failure while another exception unwinds is dropped: that one arrives.
  try {
    RobustLock lock(m.get(), [] {});
    m.get().Init();
    throw std::runtime_error("inside");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "inside");
  }
}

}  // namespace
}  // namespace shmpool::shm
