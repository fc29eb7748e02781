#include "shm/robust_mutex.h"

#include <cerrno>

#include "shm/check.h"

namespace shmpool::shm {

void RobustMutex::Init() {
  pthread_mutexattr_t attr;
  SHMPOOL_CHECK(pthread_mutexattr_init(&attr) == 0);
  SHMPOOL_CHECK(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0);
  SHMPOOL_CHECK(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0);
  SHMPOOL_CHECK(pthread_mutex_init(&m_, &attr) == 0);
  pthread_mutexattr_destroy(&attr);
}

RobustMutex::LockResult RobustMutex::Lock() {
  const int rc = pthread_mutex_lock(&m_);
  if (rc == EOWNERDEAD) return LockResult::kOwnerDied;
  SHMPOOL_CHECK(rc == 0);  // ENOTRECOVERABLE means a repair was skipped: a bug
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

}  // namespace shmpool::shm
