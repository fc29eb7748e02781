// libFuzzer target: operation sequences on one arena against a model (alloc_ops.h). A
// disagreement prints the step and what differed, then traps (libFuzzer keeps the input as
// the reproducer; alloc_ops_test replays the corpus in fuzz/corpus/alloc_ops).
#include <cstdio>

#include "fuzz/alloc_ops.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string error = shmpool::fuzz::RunAllocOps(data, size);
  if (!error.empty()) {
    std::fprintf(stderr, "alloc_ops: %s\n", error.c_str());
    __builtin_trap();
  }
  return 0;
}
