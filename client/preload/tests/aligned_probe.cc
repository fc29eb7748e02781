// Aligned allocation and realloc as programs use them: posix_memalign, aligned_alloc,
// memalign, valloc, pvalloc and aligned operator new, 2000 blocks each (alignments 16 to
// 4096), checked for alignment, usable size and contents; then realloc growing and
// shrinking blocks while keeping their bytes. Exits 1 on any violation. Pauses (pause.h)
// with the aligned blocks live: only they can make the arena's count reach 10000.
#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "pause.h"

namespace {

int violations = 0;

void Check(void* p, size_t alignment, size_t size) {
  if (p == nullptr || reinterpret_cast<uintptr_t>(p) % alignment != 0 ||
      malloc_usable_size(p) < size) {
    std::fprintf(stderr, "bad block %p for alignment %zu size %zu\n", p, alignment, size);
    ++violations;
    return;
  }
  std::memset(p, 0x3C, size);
}

struct alignas(256) Wide {
  char bytes[300];
};

}  // namespace

int main() {
  const size_t page = static_cast<size_t>(getpagesize());
  std::vector<void*> blocks;
  std::vector<Wide*> wides;
  for (int i = 0; i < 2000; ++i) {
    const size_t a = size_t{16} << (i % 9), n = 1 + static_cast<size_t>(i) * 13 % 3000;
    void* p = nullptr;
    if (posix_memalign(&p, a, n) != 0) ++violations;
    Check(p, a, n);
    blocks.push_back(p);
    blocks.push_back(aligned_alloc(a, n));
    Check(blocks.back(), a, n);
    blocks.push_back(memalign(a, n));
    Check(blocks.back(), a, n);
    blocks.push_back(valloc(n));
    Check(blocks.back(), page, n);
    blocks.push_back(pvalloc(n));
    Check(blocks.back(), page, (n + page - 1) / page * page);
    wides.push_back(new Wide);
    Check(wides.back(), alignof(Wide), sizeof(Wide));
  }
  for (int i = 0; i < 200; ++i) {
    auto* p = static_cast<unsigned char*>(std::malloc(8));
    size_t n = 8;
    std::memset(p, i, n);
    for (size_t to : {24, 100, 1000, 40000, 300000, 50, 7000}) {
      p = static_cast<unsigned char*>(std::realloc(p, to));
      for (size_t k = 0; k < (n < to ? n : to); ++k)
        if (p[k] != static_cast<unsigned char>(i)) ++violations;
      std::memset(p, i, to);
      n = to;
    }
    std::free(p);
  }
  PauseForStats();
  for (void* p : blocks) std::free(p);
  for (Wide* w : wides) delete w;
  if (violations != 0) {
    std::fprintf(stderr, "%d violations\n", violations);
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
