// The process-local peers: plain malloc/free, bound at link time to glibc, jemalloc,
// tcmalloc or mimalloc (one binary per allocator; active_allocator.h proves which).
#pragma once

#include <cstddef>
#include <cstdlib>

namespace shmpool::bench {

struct MallocBackend {
  void* Allocate(size_t n) { return std::malloc(n); }
  void Free(void* p) { std::free(p); }
};

}  // namespace shmpool::bench
