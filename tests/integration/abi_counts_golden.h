// Golden instruction counts: what one call costs on the hit path (the thread cache's bin
// neither empty nor full), counted by callgrind as abi_counts_test does, for the library
// compiled with the Release flags (GCC, x86-64). The test fails when a count rises above
// these figures. Lowering them is welcome: when a change makes a fast path shorter, put
// the new count here. Raising one needs a reason in the commit message.
//
// To regenerate: build and run the test, which prints every measured count:
//   cmake --build --preset debug --target abi_counts_test
//   build/debug/tests/integration/abi_counts_test
#pragma once

namespace shmpool::testing {

inline constexpr int kGoldenShmpoolMalloc = 20;   // shmpool_malloc(c, 64)
inline constexpr int kGoldenShmpoolFree = 46;     // shmpool_free(c, p)
inline constexpr int kGoldenClientAllocate = 20;  // Client::Allocate(64), in a function
inline constexpr int kGoldenClientFree = 46;      // Client::Free(p), in a function

}  // namespace shmpool::testing
