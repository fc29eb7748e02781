// consumer.cc: the C++ API from an installed shmpool (shmpool::Client). Attaches to
// ENDPOINT's arena "default", allocates and frees, purges, detaches. Exit 0 on success.
#include <shmpool/client.h>

#ifdef SHMPOOL_ALL_HEADERS
#include SHMPOOL_ALL_HEADERS  // every installed header, when the test asks
#endif

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer_cxx ENDPOINT\n");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<shmpool::Client>> c = shmpool::Client::Attach(argv[1], "default");
  if (!c.ok()) {
    std::fprintf(stderr, "consumer_cxx: attach: %s\n", c.status().ToString().c_str());
    return 1;
  }
  std::vector<void*> blocks;
  for (int i = 0; i < 100; i++) {
    void* p = (*c)->Allocate(64);
    if (p == nullptr) {
      std::fprintf(stderr, "consumer_cxx: Allocate returned nullptr\n");
      return 1;
    }
    std::memset(p, 0x5a, 64);
    blocks.push_back(p);
  }
  for (void* p : blocks) (*c)->Free(p);
  absl::StatusOr<uint64_t> purged = (*c)->Purge();
  if (!purged.ok()) {
    std::fprintf(stderr, "consumer_cxx: purge: %s\n", purged.status().ToString().c_str());
    return 1;
  }
  std::printf("consumer_cxx: 100 blocks allocated and freed; purge released %llu bytes\n",
              static_cast<unsigned long long>(*purged));
  return 0;
}
