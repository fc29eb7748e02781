// The deterministic random stream of the churn workload: SplitMix64 with a fixed seed, so
// every allocator sees exactly the same sequence of slots and sizes. Uniform draws use a
// multiply-shift (Lemire) instead of a division, to keep the generator's cost small and
// the same for every allocator.
#pragma once

#include <cstdint>

namespace shmpool::bench {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Maps 32 random bits to [0, n).
inline uint32_t Below(uint32_t bits, uint32_t n) {
  return static_cast<uint32_t>((uint64_t{bits} * n) >> 32);
}

}  // namespace shmpool::bench
