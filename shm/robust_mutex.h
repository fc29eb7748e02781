// RobustMutex: a process-shared, robust pthread mutex that lives inside a segment.
//
// Boost.Interprocess's mutex is not robust (a holder killed by SIGKILL leaves it locked
// forever), so the slow paths use this one. Lock() returns kOwnerDied when the previous
// holder died inside its critical section: the caller must then restore the invariants of
// the data the mutex guards (each guarded structure documents how) and call
// MarkConsistent() before Unlock(). Never copied or moved: it lives at a fixed offset.
//
// Inside an UntrustedScope (untrusted.h) the mutex is hostile input: Lock() first checks
// that its bytes still hold a robust process-shared mutex (glibc's kind field), then waits
// at most the scope's deadline (pthread_mutex_clocklock on CLOCK_MONOTONIC; a TSan
// build polls trylock) and throws
// SegmentFault(kLockTimeout); any other error code throws kCorrupt. Outside a scope an
// error code is a bug and aborts.
#pragma once

#include <pthread.h>

#include <exception>

namespace shmpool::shm {

class RobustMutex {
 public:
  enum class LockResult { kAcquired, kOwnerDied };

  RobustMutex() = delete;
  RobustMutex(const RobustMutex&) = delete;
  RobustMutex& operator=(const RobustMutex&) = delete;

  // Initialises the mutex in place; only the creator of a segment calls this.
  void Init();
  LockResult Lock();
  bool TryLock(LockResult* result);
  void MarkConsistent();
  void Unlock();
  // Unlock for a guard's destructor: `uncaught` is std::uncaught_exceptions() when the
  // guard locked. A failed unlock is a failed check (a SegmentFault in a scope) unless an
  // exception is unwinding through the guard: then the operation is failing already and
  // the failure is dropped, since a destructor may not throw during unwinding.
  void UnlockFromGuard(int uncaught);
  // Unlocks a mutex whose owner died when the repair did not finish (it threw): the mutex
  // is left not consistent, so every later Lock() fails with ENOTRECOVERABLE.
  void UnlockUnrepaired();

 private:
  pthread_mutex_t m_;
};

// Locks a RobustMutex for a scope; runs `repair` under the lock when the previous owner
// died. Exception-safe: a repair that throws leaves the mutex unlocked and not
// recoverable; an exception thrown under the lock unlocks it on the way out.
template <typename Repair>
class RobustLock {
 public:
  RobustLock(RobustMutex& m, Repair repair) : m_(m), uncaught_(std::uncaught_exceptions()) {
    if (m_.Lock() == RobustMutex::LockResult::kOwnerDied) {
      try {
        repair();
      } catch (...) {
        m_.UnlockUnrepaired();
        throw;
      }
      m_.MarkConsistent();
    }
  }
  ~RobustLock() noexcept(false) { m_.UnlockFromGuard(uncaught_); }
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;

 private:
  RobustMutex& m_;
  int uncaught_;
};

}  // namespace shmpool::shm
