// Workload (a) for `valgrind --tool=callgrind --collect-atstart=no`: instructions per
// malloc+free pair with the loop's own instructions taken out.
//
// Four regions, each collected alone (CALLGRIND_TOGGLE_COLLECT around it) and dumped
// under its name (CALLGRIND_DUMP_STATS_AT): the pair loop with N and 2N iterations, and
// the empty loop with N and 2N. Differencing N from 2N removes the constant costs (the
// call into the loop, the client requests); subtracting the empty loop's difference
// removes the per-iteration loop overhead (counter, compare, branch). bench/run.sh
// computes (pairs_2n - pairs_n - (empty_2n - empty_n)) / N. Natively the client
// requests do nothing, so --smoke runs this path too.
#pragma once

#include <valgrind/callgrind.h>

#include <cstdint>

#include "bench/src/local_workloads.h"

namespace shmpool::bench {

template <class F>
void CallgrindRegion(const char* name, F run) {
  CALLGRIND_TOGGLE_COLLECT;
  run();
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_DUMP_STATS_AT(name);
}

template <class B>
void RunCallgrindPairs(B& b, uint64_t n) {
  PairLoop(b, n);  // warm up, not collected
  CallgrindRegion("pairs_n", [&] { PairLoop(b, n); });
  CallgrindRegion("pairs_2n", [&] { PairLoop(b, 2 * n); });
  CallgrindRegion("empty_n", [&] { EmptyLoop(n); });
  CallgrindRegion("empty_2n", [&] { EmptyLoop(2 * n); });
}

}  // namespace shmpool::bench
