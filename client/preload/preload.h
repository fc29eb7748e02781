// What the preloaded malloc family (malloc_family.cc, new_delete.cc) shares with the code that
// attaches to the arena and follows fork (attach.cc): the routing state and glibc's allocator.
//
// State: the process-wide routing of allocations. `mode` says who serves a new block; a block
// is freed by whoever owns its address (`ranges`), whatever the mode is now. Invariants:
// `client` is set before `mode` becomes kArena (release), and `mode` leaves kArena only in a
// forked child (whose copy of the arena is private from then on: attach.cc) or never.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shmpool/shmpool.h"

extern "C" {
void* __libc_malloc(size_t size);
void __libc_free(void* p);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
}

namespace shmpool::preload {

enum class Mode : int {
  kBootstrap,  // the attach has not finished (or not started): glibc serves
  kArena,      // attached: the arena serves, glibc when it is exhausted and so configured
  kGlibc,      // no arena (not configured, the attach failed, or a child after fork)
};

// The address ranges of the arena generations this process allocated from: a pointer in one
// is the arena's, any other pointer is glibc's. Appended under a lock (never removed) when a
// block comes from a generation not listed yet; every generation of an arena has the same
// size (Client::Follow refuses another geometry), `bytes`.
struct Ranges {
  static constexpr uint32_t kMax = 64;
  std::atomic<uint32_t> count{0};
  uintptr_t base[kMax] = {};
  uintptr_t bytes = 0;

  bool Holds(const void* p) const {
    const uint32_t n = count.load(std::memory_order_acquire);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    for (uint32_t i = n; i-- > 0;)
      if (a - base[i] < bytes) return true;
    return false;
  }
};

struct State {
  std::atomic<Mode> mode{Mode::kBootstrap};
  shmpool_client* client = nullptr;
  Ranges ranges;
  bool fallback_to_glibc = true;  // SHMPOOL_MALLOC_FALLBACK: glibc (true) or fail
  bool quiet = false;             // SHMPOOL_MALLOC_QUIET=1: no message on stderr
  bool fork_cow = false;          // SHMPOOL_MALLOC_FORK: copy (false) or cow (attach.cc)
};
extern State state;

// Set while this thread runs inside the client library: what it allocates there goes to glibc.
inline constinit thread_local bool in_library __attribute__((tls_model("initial-exec"))) = false;

class LibraryScope {
 public:
  LibraryScope() { in_library = true; }
  ~LibraryScope() { in_library = false; }
  LibraryScope(const LibraryScope&) = delete;
  LibraryScope& operator=(const LibraryScope&) = delete;
};

// The client that serves this call, or nullptr when glibc does.
inline shmpool_client* ServingClient() {
  if (in_library || state.mode.load(std::memory_order_acquire) != Mode::kArena) return nullptr;
  return state.client;
}

// Records the generation of `p` (a block the arena just gave) if it is not listed yet.
void NoteGeneration(const void* p);
// A failed arena allocation of `size`: glibc's block, or nullptr (errno ENOMEM) when
// SHMPOOL_MALLOC_FALLBACK=fail. Reports the first one on stderr.
void* OnExhausted(size_t size, size_t alignment);
// One line on stderr ("shmpool_malloc: ..."), unless SHMPOOL_MALLOC_QUIET=1.
void Say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace shmpool::preload
