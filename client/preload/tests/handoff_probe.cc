// A block handed to another process by ref (shmpool/preload.h, found with dlsym so the
// program runs without the preload too). `give`: mallocs a block, writes a message into it,
// prints "ref N" and "ready", and exits after a line on stdin without freeing it. `take N`:
// turns the ref into its own pointer, checks the message, frees the block, prints "ok".
#include <dlfcn.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pause.h"

namespace {

constexpr char kMessage[] = "a block of the giver's heap";

}  // namespace

int main(int argc, char** argv) {
  using RefOf = uint64_t (*)(const void*);
  using PtrOf = void* (*)(uint64_t);
  const auto ref_of = reinterpret_cast<RefOf>(dlsym(RTLD_DEFAULT, "shmpool_preload_ref_of"));
  const auto ptr_of = reinterpret_cast<PtrOf>(dlsym(RTLD_DEFAULT, "shmpool_preload_ptr_of"));
  if (ref_of == nullptr || ptr_of == nullptr) {
    std::fprintf(stderr, "not under libshmpool_malloc.so\n");
    return 1;
  }
  if (argc == 2 && std::strcmp(argv[1], "give") == 0) {
    char* p = static_cast<char*>(std::malloc(sizeof(kMessage)));
    std::memcpy(p, kMessage, sizeof(kMessage));
    std::printf("ref %" PRIu64 "\n", ref_of(p));
    PauseForStats();
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "take") == 0) {
    char* p = static_cast<char*>(ptr_of(std::strtoull(argv[2], nullptr, 10)));
    if (p == nullptr || std::strcmp(p, kMessage) != 0) {
      std::fprintf(stderr, "ref %s gave %p\n", argv[2], static_cast<void*>(p));
      return 1;
    }
    std::free(p);
    std::printf("ok\n");
    return 0;
  }
  std::fprintf(stderr, "usage: %s give | take REF\n", argv[0]);
  return 2;
}
