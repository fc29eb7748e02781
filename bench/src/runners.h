// One entry point per allocator column of the table. Each runs its workloads once (after
// an untimed warm-up) and prints one line per result on stdout:
//   ACTIVE <alloc> <evidence that this allocator really served the blocks>
//   RESULT <workload> <alloc> <ns per op>        workload: a, b, c, d256, d2048
//   CALLGRIND_N <n>   (callgrind mode: the regions' N, see callgrind_regions.h)
// With `callgrind` set, a runner runs only the callgrind regions of workload (a).
#pragma once

#include <cstdint>
#include <string>

#include "bench/src/counts.h"

namespace shmpool::bench {

struct RunOptions {
  Counts counts;
  bool callgrind = false;
  bool smoke = false;  // also run the callgrind regions (natively: no-ops) after timing
};

// glibc, jemalloc, tcmalloc, mimalloc: (a) (b) (c); `name` must be this process's malloc.
void RunMalloc(const std::string& name, const RunOptions& o);
// shmpool: (a) (b) (c) (d).
void RunShmpool(const RunOptions& o);
// Boost.Interprocess managed_shared_memory: (a) (b) (c) (d).
void RunBoostMsm(const RunOptions& o);
// Boost.Interprocess cached_node_allocator: (d).
void RunBoostCna(const RunOptions& o);
// The no-allocator limit: (d).
void RunLimit(const RunOptions& o);

void PrintActive(const std::string& alloc, const std::string& evidence);
void PrintResult(const std::string& workload, const std::string& alloc, double ns);
void PrintCallgrindN(uint64_t n);

}  // namespace shmpool::bench
