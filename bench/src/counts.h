// The fixed iteration counts of every workload, the same for every allocator, full and
// smoke. A full run of one allocator's binary takes about half a second, except for
// Boost.Interprocess (several seconds); --smoke runs each workload for a few milliseconds.
#pragma once

#include <cstdint>

namespace shmpool::bench {

struct Counts {
  uint64_t pairs;          // (a) malloc+free pairs of 64 B, timed
  uint64_t batch_rounds;   // (b) rounds of 1000 allocations then 1000 frees, timed
  uint64_t churn_ops;      // (c) replacements in the live set, timed
  uint64_t xproc_buffers;  // (d) buffers passed from A to B, timed (per buffer size)
  uint64_t callgrind_n;    // (a) under callgrind: N (and 2N) pairs
  uint64_t warmup_div;     // each workload first runs (its count / warmup_div) untimed
};

inline constexpr uint32_t kBatch = 1000;          // (b) blocks per round
inline constexpr uint32_t kLiveSet = 10000;       // (c) live blocks
inline constexpr uint32_t kChurnMin = 16;         // (c) smallest size
inline constexpr uint32_t kChurnMax = 1024;       // (c) largest size
inline constexpr uint64_t kChurnSeed = 20240601;  // (c) SplitMix64 seed
struct XprocSize {
  uint32_t bytes;
  const char* workload;  // its name in the results
};
inline constexpr XprocSize kXprocSizes[] = {{256, "d256"}, {2048, "d2048"}};

inline constexpr Counts kFullCounts = {
    .pairs = 5'000'000,
    .batch_rounds = 5'000,
    .churn_ops = 3'000'000,
    .xproc_buffers = 2'000'000,
    .callgrind_n = 100'000,
    .warmup_div = 10,
};

inline constexpr Counts kSmokeCounts = {
    .pairs = 2'000,
    .batch_rounds = 2,
    .churn_ops = 2'000,
    .xproc_buffers = 2'000,
    .callgrind_n = 1'000,
    .warmup_div = 2,
};

}  // namespace shmpool::bench
