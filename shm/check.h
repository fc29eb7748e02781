// Checks, in two strengths (see shm/README.md):
//
//   SHMPOOL_CHECK(cond)  always on. For anything read from shared memory, which another
//                        process could have corrupted: failing it is a clear fatal error
//                        with the file and line, never undefined behaviour. Inside an
//                        UntrustedScope (untrusted.h: the daemon) it throws
//                        SegmentFault(kCorrupt) with the same text instead.
//   SHMPOOL_ASSERT(cond) debug builds only. For our own process-local invariants.
#pragma once

namespace shmpool::shm {

[[noreturn]] void CheckFailed(const char* expr, const char* file, int line);

}  // namespace shmpool::shm

#define SHMPOOL_CHECK(cond)                                                                   \
  do {                                                                                        \
    if (__builtin_expect(!(cond), 0)) ::shmpool::shm::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

#ifdef NDEBUG
#define SHMPOOL_ASSERT(cond) \
  do {                       \
  } while (0)
#else
#define SHMPOOL_ASSERT(cond) SHMPOOL_CHECK(cond)
#endif
