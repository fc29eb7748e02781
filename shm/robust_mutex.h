// RobustMutex: a process-shared, robust pthread mutex that lives inside a segment.
//
// Boost.Interprocess's mutex is not robust (a holder killed by SIGKILL leaves it locked
// forever), so the slow paths use this one. Lock() returns kOwnerDied when the previous
// holder died inside its critical section: the caller must then restore the invariants of
// the data the mutex guards (each guarded structure documents how) and call
// MarkConsistent() before Unlock(). Never copied or moved: it lives at a fixed offset.
#pragma once

#include <pthread.h>

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

 private:
  pthread_mutex_t m_;
};

// Locks a RobustMutex for a scope; runs `repair` under the lock when the previous owner died.
template <typename Repair>
class RobustLock {
 public:
  RobustLock(RobustMutex& m, Repair repair) : m_(m) {
    if (m_.Lock() == RobustMutex::LockResult::kOwnerDied) {
      repair();
      m_.MarkConsistent();
    }
  }
  ~RobustLock() { m_.Unlock(); }
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;

 private:
  RobustMutex& m_;
};

}  // namespace shmpool::shm
