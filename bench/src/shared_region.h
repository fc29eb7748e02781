// An anonymous shared mapping made before fork(): both processes of the cross-process
// workload see it (at the same address), so it carries the benchmark's own control block,
// rings and, for the no-allocator limit, the buffers. Allocator segments are not put here:
// each process maps those itself.
#pragma once

#include <sys/mman.h>

#include <cstddef>

#include "bench/src/fail.h"

namespace shmpool::bench {

class SharedRegion {
 public:
  explicit SharedRegion(size_t bytes) : bytes_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) Fail("mmap of a shared region failed");
    data_ = static_cast<char*>(p);
  }
  ~SharedRegion() { munmap(data_, bytes_); }
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  char* data() const { return data_; }

 private:
  size_t bytes_;
  char* data_;
};

}  // namespace shmpool::bench
