// Named-order atomic helpers. Every synchronisation point in a segment goes through one of
// these, so reading the code shows which order each access needs. Fields that are accessed
// atomically carry an `x` prefix (xhead, xseq, ...).
//
// Every atomic that lives in a segment must be lock-free (a lock would live in one
// process's memory, not in the segment): the static_asserts below pin that.
#pragma once

#include <atomic>
#include <cstdint>

namespace shmpool::shm {

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// A CAS or sequence-check loop over a segment word that retries this many times in a row
// is being fought by a writer that breaks the protocol (a corrupted or hostile segment):
// each retry of an honest loop means another process made progress.
inline constexpr uint64_t kSpinLimit = uint64_t{1} << 24;

template <typename T>
inline T LoadRelaxed(const std::atomic<T>& a) {
  return a.load(std::memory_order_relaxed);
}
template <typename T>
inline T LoadAcquire(const std::atomic<T>& a) {
  return a.load(std::memory_order_acquire);
}
template <typename T>
inline void StoreRelaxed(std::atomic<T>& a, T v) {
  a.store(v, std::memory_order_relaxed);
}
template <typename T>
inline void StoreRelease(std::atomic<T>& a, T v) {
  a.store(v, std::memory_order_release);
}
// Adds to a counter that only one thread writes: a load and a store, no locked instruction.
// Keeps the compiler from moving a store that precedes this point below the stores that
// follow it. A kill -9 lands between two instructions of the dying thread, and everyone
// who then reads what it left (a repair, a reclaim) runs after its death, so a crash
// argument depends only on the order in which the stores were emitted: this fence costs no
// instruction. (A release store orders the stores before it; this orders one after.)
inline void KeepStoreOrder() { std::atomic_signal_fence(std::memory_order_release); }
// Fences between plain loads (AcquireFence: the loads before it happen before the loads
// after it) or stores (ReleaseFence: the stores before it before the stores after it), for
// the consistent reads of records that are written field by field. TSan models no fence
// (GCC warns, -Wtsan); a TSan build keeps the compiler's order only, which is all x86's
// hardware needs for load-load and store-store order (TSan runs on x86 here).
inline void AcquireFence() {
#if defined(__SANITIZE_THREAD__)
  std::atomic_signal_fence(std::memory_order_acquire);
#else
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
}
inline void ReleaseFence() {
#if defined(__SANITIZE_THREAD__)
  std::atomic_signal_fence(std::memory_order_release);
#else
  std::atomic_thread_fence(std::memory_order_release);
#endif
}
// Adds to a counter that only one thread writes, with no locked instruction. On x86-64 it
// is one unlocked add to memory: its store is aligned, so a concurrent reader's load sees
// the old or the new value. Elsewhere, and under TSan (which does not see inline asm), a
// relaxed load and a relaxed store.
template <typename T>
inline void BumpOwned(std::atomic<T>& a, T delta) {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  static_assert(sizeof(T) == 8 || sizeof(T) == 4);
  if constexpr (sizeof(T) == 8)
    asm volatile("addq %1, %0" : "+m"(a) : "er"(delta) : "cc");
  else
    asm volatile("addl %1, %0" : "+m"(a) : "ir"(delta) : "cc");
#else
  a.store(a.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
#endif
}
template <typename T>
inline T FetchAddRelaxed(std::atomic<T>& a, T delta) {
  return a.fetch_add(delta, std::memory_order_relaxed);
}
template <typename T>
inline bool CasAcqRel(std::atomic<T>& a, T& expected, T desired) {
  return a.compare_exchange_weak(expected, desired, std::memory_order_acq_rel,
                                 std::memory_order_acquire);
}
template <typename T>
inline bool CasStrongAcqRel(std::atomic<T>& a, T& expected, T desired) {
  return a.compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                   std::memory_order_acquire);
}

}  // namespace shmpool::shm
