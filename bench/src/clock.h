// Timing and optimisation barriers shared by every workload: a monotonic nanosecond clock
// (CLOCK_MONOTONIC, comparable across the processes of the cross-process workload) and
// Escape(), which makes the compiler believe a pointer is used so that it cannot elide an
// allocation and its free (GCC removes unused malloc/free pairs otherwise).
#pragma once

#include <time.h>

#include <cstdint>

namespace shmpool::bench {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline void Escape(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

}  // namespace shmpool::bench
