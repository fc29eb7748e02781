// Runs workloads (a) (b) (c) on one backend and prints their results (runners.h), or in
// callgrind mode only the callgrind regions of (a).
#pragma once

#include <string>

#include "bench/src/callgrind_regions.h"
#include "bench/src/local_workloads.h"
#include "bench/src/runners.h"

namespace shmpool::bench {

template <class B>
void RunLocal(B& b, const std::string& alloc, const RunOptions& o) {
  if (!o.callgrind) {
    PrintResult("a", alloc, MeasurePairs(b, o.counts));
    PrintResult("b", alloc, MeasureBatch(b, o.counts));
    PrintResult("c", alloc, MeasureChurn(b, o.counts));
  }
  if (o.callgrind || o.smoke) {
    PrintCallgrindN(o.counts.callgrind_n);
    RunCallgrindPairs(b, o.counts.callgrind_n);
  }
}

}  // namespace shmpool::bench
