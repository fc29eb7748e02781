// The single-producer single-consumer ring that carries buffer offsets between the two
// processes of workload (d). Lamport's queue with cached indices (as in folly's
// ProducerConsumerQueue and rigtorp's SPSCQueue): each side reads the other side's index
// only when its cached copy says the ring looks full (or empty), so in steady state a
// push or pop touches the slot and its own cache line.
//
// Layout: the producer's line {tail, cached head}, the consumer's line {head, cached tail},
// then the slots. Indices only grow (64-bit: no wrap in practice).
// INVARIANT: head <= tail <= head + kSlots; slots [head, tail) hold published values.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace shmpool::bench {

// Busy-waits with a pause, then yields: the machine has 2 cores and other work.
template <class Done>
inline void SpinUntil(Done done) {
  for (uint32_t spins = 0; !done(); ++spins) {
    if (spins < 256)
      __builtin_ia32_pause();
    else
      sched_yield();
  }
}

class SpscRing {
 public:
  static constexpr uint64_t kSlots = 1024;

  bool TryPush(uint64_t v) {
    const uint64_t t = xtail_.load(std::memory_order_relaxed);
    if (t - head_cache_ == kSlots) {
      head_cache_ = xhead_.load(std::memory_order_acquire);
      if (t - head_cache_ == kSlots) return false;
    }
    slots_[t % kSlots] = v;
    xtail_.store(t + 1, std::memory_order_release);
    return true;
  }

  bool TryPop(uint64_t* v) {
    const uint64_t h = xhead_.load(std::memory_order_relaxed);
    if (h == tail_cache_) {
      tail_cache_ = xtail_.load(std::memory_order_acquire);
      if (h == tail_cache_) return false;
    }
    *v = slots_[h % kSlots];
    xhead_.store(h + 1, std::memory_order_release);
    return true;
  }

  void Push(uint64_t v) {
    SpinUntil([&] { return TryPush(v); });
  }
  uint64_t Pop() {
    uint64_t v;
    SpinUntil([&] { return TryPop(&v); });
    return v;
  }

 private:
  alignas(64) std::atomic<uint64_t> xtail_{0};
  uint64_t head_cache_ = 0;
  alignas(64) std::atomic<uint64_t> xhead_{0};
  uint64_t tail_cache_ = 0;
  alignas(64) uint64_t slots_[kSlots] = {};
};

}  // namespace shmpool::bench
