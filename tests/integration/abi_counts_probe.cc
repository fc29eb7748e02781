// The program abi_counts_test runs under callgrind: it attaches through the daemon at
// argv[1] to the arena "default" and calls the fast paths users call on the hit path,
// shmpool_malloc(64)/shmpool_free through the C ABI, then Client::Allocate(64)/Free through
// the C++ API (each wrapped in a function of its own that is never inlined, so callgrind's
// --toggle-collect counts exactly one call: what shmpool_malloc is to the C ABI).
//
// For each API: 8 blocks stay allocated throughout (the thread cache's bin is then neither
// empty nor at its batch limit), a warm-up of N pairs, then CALLGRIND_ZERO_STATS, N pairs
// dumped as "<api>_n" and 2N pairs dumped as "<api>_2n". Natively the client requests do
// nothing. Exits 0, or 1 with a message on stderr.
#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "shmpool/client.h"
#include "shmpool/shmpool.h"

extern "C" {
// noipa: never inlined or cloned, so the symbol callgrind toggles on is the one called.
__attribute__((noipa)) void* abi_counts_cxx_allocate(shmpool::Client* c, size_t size) {
  return c->Allocate(size);
}
__attribute__((noipa)) void abi_counts_cxx_free(shmpool::Client* c, void* p) { c->Free(p); }
}

namespace {

constexpr int kN = 1000;
constexpr int kHeld = 8;
constexpr size_t kSize = 64;

// Keeps the block (and every store to it) alive, as code using it would.
inline void Escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "abi_counts_probe: %s\n", what.c_str());
  exit(1);
}

template <class Alloc, class Free>
void Measure(const char* api, Alloc alloc, Free free) {
  void* held[kHeld];
  for (void*& h : held)
    if ((h = alloc(kSize)) == nullptr) Fail(std::string(api) + ": allocation failed");
  auto pairs = [&](int n) {
    for (int i = 0; i < n; ++i) {
      void* p = alloc(kSize);
      Escape(p);
      free(p);
    }
  };
  pairs(kN);
  CALLGRIND_ZERO_STATS;
  pairs(kN);
  CALLGRIND_DUMP_STATS_AT((std::string(api) + "_n").c_str());
  pairs(2 * kN);
  CALLGRIND_DUMP_STATS_AT((std::string(api) + "_2n").c_str());
  for (void* h : held) free(h);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Fail("usage: abi_counts_probe ENDPOINT");
  shmpool_client* c = nullptr;
  if (const int rc = shmpool_attach(argv[1], "default", &c); rc != 0)
    Fail(std::string("shmpool_attach: ") + shmpool_last_error());
  Measure(
      "c", [c](size_t n) { return shmpool_malloc(c, n); }, [c](void* p) { shmpool_free(c, p); });
  shmpool_detach(c);

  auto cxx = shmpool::Client::Attach(argv[1], "default");
  if (!cxx.ok()) Fail("Client::Attach: " + std::string(cxx.status().message()));
  shmpool::Client* cl = cxx->get();
  Measure(
      "cxx", [cl](size_t n) { return abi_counts_cxx_allocate(cl, n); },
      [cl](void* p) { abi_counts_cxx_free(cl, p); });
  printf("N %d\n", kN);
  return 0;
}
