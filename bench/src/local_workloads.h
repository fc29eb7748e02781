// Workloads (a), (b) and (c), in one process, over any backend with Allocate(n)/Free(p):
//   (a) pairs: allocate 64 B, free it; ns per pair. The cost of the fast paths when the
//       thread's cache always holds the block: the best case of every allocator.
//   (b) batch: 1000 allocations of 64 B, then the 1000 frees in allocation order; ns per
//       block (one allocation plus one free). Exercises refill and drain of the caches.
//   (c) churn: a live set of 10,000 blocks of random sizes in [16, 1024]; each operation
//       frees a random slot, allocates a new random size there and writes its first byte;
//       ns per replacement. Deterministic seed, the same stream for every allocator. Many
//       size classes and a working set larger than the caches.
// Each measurement runs a tenth of its count untimed first, to warm caches and pages.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/src/clock.h"
#include "bench/src/counts.h"
#include "bench/src/fail.h"
#include "bench/src/rng.h"

namespace shmpool::bench {

template <class B>
__attribute__((noinline)) void PairLoop(B& b, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    void* p = b.Allocate(64);
    Escape(p);
    b.Free(p);
  }
}

// The same loop without the allocator: what callgrind subtracts as loop overhead.
void EmptyLoop(uint64_t n);

template <class B>
double MeasurePairs(B& b, const Counts& c) {
  PairLoop(b, c.pairs / c.warmup_div);
  const int64_t t0 = NowNs();
  PairLoop(b, c.pairs);
  return double(NowNs() - t0) / double(c.pairs);
}

template <class B>
__attribute__((noinline)) void BatchRounds(B& b, std::vector<void*>& v, uint64_t rounds) {
  for (uint64_t r = 0; r < rounds; ++r) {
    for (void*& p : v) {
      p = b.Allocate(64);
      Escape(p);
    }
    for (void* p : v) b.Free(p);
  }
}

template <class B>
double MeasureBatch(B& b, const Counts& c) {
  std::vector<void*> v(kBatch);
  BatchRounds(b, v, c.batch_rounds / c.warmup_div);
  if (v.front() == nullptr || v.back() == nullptr) Fail("batch: allocation failed");
  const int64_t t0 = NowNs();
  BatchRounds(b, v, c.batch_rounds);
  return double(NowNs() - t0) / double(c.batch_rounds * kBatch);
}

template <class B>
__attribute__((noinline)) void ChurnOps(B& b, std::vector<char*>& live, SplitMix64& rng,
                                        uint64_t ops) {
  for (uint64_t i = 0; i < ops; ++i) {
    const uint64_t r = rng.Next();
    const uint32_t slot = Below(static_cast<uint32_t>(r >> 32), kLiveSet);
    const uint32_t size = kChurnMin + Below(static_cast<uint32_t>(r), kChurnMax - kChurnMin + 1);
    b.Free(live[slot]);
    char* p = static_cast<char*>(b.Allocate(size));
    p[0] = static_cast<char>(r);
    live[slot] = p;
  }
}

template <class B>
double MeasureChurn(B& b, const Counts& c) {
  SplitMix64 rng(kChurnSeed);
  std::vector<char*> live(kLiveSet);
  for (char*& p : live) {
    const uint32_t r = static_cast<uint32_t>(rng.Next());
    p = static_cast<char*>(b.Allocate(kChurnMin + Below(r, kChurnMax - kChurnMin + 1)));
    if (p == nullptr) Fail("churn: allocation failed");
    p[0] = 1;
  }
  ChurnOps(b, live, rng, c.churn_ops / c.warmup_div);
  const int64_t t0 = NowNs();
  ChurnOps(b, live, rng, c.churn_ops);
  const double ns = double(NowNs() - t0) / double(c.churn_ops);
  for (char* p : live) {
    if (p == nullptr) Fail("churn: allocation failed");
    b.Free(p);
  }
  return ns;
}

}  // namespace shmpool::bench
