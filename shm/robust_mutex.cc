#include "shm/robust_mutex.h"

#include <time.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "shm/check.h"
#include "shm/untrusted.h"

namespace shmpool::shm {
namespace {

void InitAttr(pthread_mutexattr_t* attr) {
  SHMPOOL_CHECK(pthread_mutexattr_init(attr) == 0);
  SHMPOOL_CHECK(pthread_mutexattr_setpshared(attr, PTHREAD_PROCESS_SHARED) == 0);
  SHMPOOL_CHECK(pthread_mutexattr_setrobust(attr, PTHREAD_MUTEX_ROBUST) == 0);
}

#ifdef __GLIBC__
// The kind glibc stores in a mutex made by Init(): a mutex whose kind differs was
// overwritten (a PI or PP kind would even send the lock to other kernel paths).
int ExpectedKind() {
  static const int kind = [] {
    pthread_mutexattr_t attr;
    InitAttr(&attr);
    pthread_mutex_t m;
    SHMPOOL_CHECK(pthread_mutex_init(&m, &attr) == 0);
    pthread_mutexattr_destroy(&attr);
    const int k = m.__data.__kind;
    pthread_mutex_destroy(&m);
    return k;
  }();
  return kind;
}
#endif

// The timed lock. TSan's interceptors see neither pthread_mutex_clocklock nor an
// EOWNERDEAD from pthread_mutex_timedlock, so a TSan build polls pthread_mutex_trylock
// (which they see, EOWNERDEAD included) every millisecond until the deadline; every other
// build waits in pthread_mutex_clocklock on the monotonic clock.
constexpr clockid_t kLockClock = CLOCK_MONOTONIC;

#if defined(__SANITIZE_THREAD__)
bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

int TimedLock(pthread_mutex_t* m, const timespec* at) {
  for (;;) {
    const int rc = pthread_mutex_trylock(m);
    if (rc != EBUSY) return rc;
    timespec now;
    clock_gettime(kLockClock, &now);
    if (!Before(now, *at)) return ETIMEDOUT;
    const timespec ms{0, 1000000};
    nanosleep(&ms, nullptr);
  }
}
#else
int TimedLock(pthread_mutex_t* m, const timespec* at) {
  return pthread_mutex_clocklock(m, kLockClock, at);
}
#endif

timespec DeadlineFromNow(std::chrono::milliseconds wait) {
  timespec now;
  clock_gettime(kLockClock, &now);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  timespec at;
  at.tv_sec = now.tv_sec + static_cast<time_t>(ns / 1000000000);
  at.tv_nsec = now.tv_nsec + static_cast<long>(ns % 1000000000);
  if (at.tv_nsec >= 1000000000) {
    at.tv_sec += 1;
    at.tv_nsec -= 1000000000;
  }
  return at;
}

}  // namespace

void RobustMutex::Init() {
  pthread_mutexattr_t attr;
  InitAttr(&attr);
  SHMPOOL_CHECK(pthread_mutex_init(&m_, &attr) == 0);
  pthread_mutexattr_destroy(&attr);
}

RobustMutex::LockResult RobustMutex::Lock() {
  int rc;
  if (UntrustedScope::Active()) {
#ifdef __GLIBC__
    SHMPOOL_CHECK(m_.__data.__kind == ExpectedKind());
#endif
    const std::chrono::milliseconds wait = UntrustedScope::LockDeadline();
    const timespec at = DeadlineFromNow(wait);
    rc = TimedLock(&m_, &at);
    if (rc == ETIMEDOUT)
      throw SegmentFault(SegmentFault::Kind::kLockTimeout,
                         "robust mutex still held after " + std::to_string(wait.count()) + " ms");
  } else {
    rc = pthread_mutex_lock(&m_);
  }
  if (rc == EOWNERDEAD) return LockResult::kOwnerDied;
  SHMPOOL_CHECK(rc == 0);  // ENOTRECOVERABLE: a repair was skipped or failed
  return LockResult::kAcquired;
}

bool RobustMutex::TryLock(LockResult* result) {
  const int rc = pthread_mutex_trylock(&m_);
  if (rc == EBUSY) return false;
  if (rc == EOWNERDEAD) {
    *result = LockResult::kOwnerDied;
    return true;
  }
  SHMPOOL_CHECK(rc == 0);
  *result = LockResult::kAcquired;
  return true;
}

void RobustMutex::MarkConsistent() { SHMPOOL_CHECK(pthread_mutex_consistent(&m_) == 0); }

void RobustMutex::Unlock() { SHMPOOL_CHECK(pthread_mutex_unlock(&m_) == 0); }

void RobustMutex::UnlockFromGuard(int uncaught) {
  const int rc = pthread_mutex_unlock(&m_);
  if (std::uncaught_exceptions() > uncaught) return;
  SHMPOOL_CHECK(rc == 0);
}

void RobustMutex::UnlockUnrepaired() { pthread_mutex_unlock(&m_); }

}  // namespace shmpool::shm
