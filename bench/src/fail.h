// Failing loudly: a benchmark that cannot measure what it claims (wrong allocator active,
// allocation failure, a lost or corrupted buffer) prints why and exits with status 2.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace shmpool::bench {

[[noreturn]] inline void Fail(const std::string& why) {
  std::fprintf(stderr, "bench: FAIL: %s\n", why.c_str());
  std::fflush(stdout);
  std::exit(2);
}

}  // namespace shmpool::bench
