// Hooks for AddressSanitizer and valgrind. A block sitting in this process's thread cache
// is poisoned, so an application's use after free is reported; it is unpoisoned when it
// is handed out or leaves the cache (to the ring or the slabs), because another process
// may hand it back to us and ASan's shadow memory is per process. Allocator code that
// reads a cached block's link unpoisons the block first. No cost in other builds.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SHMPOOL_ASAN 1
#endif
#if __has_include(<valgrind/memcheck.h>) && !defined(SHMPOOL_ASAN) && defined(SHMPOOL_VALGRIND)
#include <valgrind/memcheck.h>
#define SHMPOOL_MEMCHECK 1
#endif

namespace shmpool::shm {

inline void PoisonBlock(void* p, size_t n) {
#if defined(SHMPOOL_ASAN)
  ASAN_POISON_MEMORY_REGION(p, n);
#elif defined(SHMPOOL_MEMCHECK)
  VALGRIND_MAKE_MEM_NOACCESS(p, n);
#else
  (void)p, (void)n;
#endif
}

inline void UnpoisonBlock(void* p, size_t n) {
#if defined(SHMPOOL_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#elif defined(SHMPOOL_MEMCHECK)
  VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
  (void)p, (void)n;
#endif
}

// True when this process poisoned the byte at p (a block in our own cache).
inline bool IsPoisoned(const void* p) {
#if defined(SHMPOOL_ASAN)
  return __asan_address_is_poisoned(p);
#else
  (void)p;
  return false;
#endif
}

inline constexpr bool kPoisoning =
#if defined(SHMPOOL_ASAN) || defined(SHMPOOL_MEMCHECK)
    true;
#else
    false;
#endif

}  // namespace shmpool::shm
