// Allocates 1 MiB blocks (touching each) until 256 of them are live or malloc returns NULL,
// prints how many it got, and frees them. Run on an arena smaller than 256 MiB it shows what
// SHMPOOL_MALLOC_FALLBACK does.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main() {
  std::vector<void*> blocks;
  blocks.reserve(256);
  while (blocks.size() < 256) {
    void* p = std::malloc(1 << 20);
    if (p == nullptr) break;
    std::memset(p, 1, 1 << 20);
    blocks.push_back(p);
  }
  std::printf("got %zu\n", blocks.size());
  for (void* p : blocks) std::free(p);
  return 0;
}
