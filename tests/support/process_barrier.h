// ProcessBarrier: a one-shot barrier for threads of many processes, in memory they all map
// (MAP_SHARED): each party calls ArriveAndWait once; all return when `parties` have arrived.
// A futex word (not a private futex), so waiters in other processes are woken; a waiter
// gives up at its deadline (a party that died never arrives) and says so.
//
// INVARIANTS: arrived only grows, by one per ArriveAndWait, and never passes parties once
// every party arrived exactly once; the word is zero-initialised (an anonymous or fresh
// mapping) before any party arrives.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

namespace shmpool::testing {

struct ProcessBarrier {
  std::atomic<uint32_t> arrived;
  static_assert(std::atomic<uint32_t>::is_always_lock_free);

  // Arrives and waits for `parties` arrivals until `timeout` has passed: false on timeout.
  bool ArriveAndWait(uint32_t parties, std::chrono::milliseconds timeout) {
    return Arrive() >= parties || Wait(parties, timeout);
  }

  // Arrives without waiting, waking every waiter; returns the arrivals so far.
  uint32_t Arrive() {
    const uint32_t n = arrived.fetch_add(1, std::memory_order_acq_rel) + 1;
    syscall(SYS_futex, Word(), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
    return n;
  }

  // Waits (without arriving) until `parties` have arrived: false on timeout.
  bool Wait(uint32_t parties, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const uint32_t now = arrived.load(std::memory_order_acquire);
      if (now >= parties) return true;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) return false;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec rel{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      syscall(SYS_futex, Word(), FUTEX_WAIT, now, &rel, nullptr, 0);
    }
  }

 private:
  uint32_t* Word() { return reinterpret_cast<uint32_t*>(&arrived); }
};

}  // namespace shmpool::testing
