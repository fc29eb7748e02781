// The malloc family, exported by libshmpool_malloc.so in place of glibc's: new blocks come
// from the arena when the process is attached (preload.h, ServingClient), from glibc
// otherwise; every block goes back to whoever owns its address.
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "preload/preload.h"

namespace shmpool::preload {
namespace {

// Whether `p` is a block of the arena (of any generation this process allocated from).
bool InArena(const void* p) {
  if (state.ranges.Holds(p)) return true;
  if (state.ranges.count.load(std::memory_order_acquire) < Ranges::kMax) return false;
  LibraryScope scope;  // more generations than Ranges lists: the client knows them all
  return shmpool_ref_of(state.client, p) != 0;
}

// What a request the arena was asked for returns: its block `p`, or when the arena had none,
// what exhaustion gives (OnExhausted).
void* Served(void* p, size_t size, size_t alignment) {
  if (__builtin_expect(p == nullptr, 0)) return OnExhausted(size, alignment);
  if (__builtin_expect(!state.ranges.Holds(p), 0)) NoteGeneration(p);
  return p;
}

void* ArenaMalloc(shmpool_client* c, size_t size) {
  void* p;
  {
    LibraryScope scope;
    p = shmpool_malloc(c, size == 0 ? 1 : size);
  }
  return Served(p, size, 0);
}

// A block of `size` bytes aligned to `alignment` (a power of two). The arena serves alignments
// up to SHMPOOL_MAX_ALIGNMENT (the page size); glibc serves larger ones.
void* AlignedAlloc(size_t alignment, size_t size) {
  shmpool_client* c = ServingClient();
  if (c == nullptr || alignment > SHMPOOL_MAX_ALIGNMENT) return __libc_memalign(alignment, size);
  void* p;
  {
    LibraryScope scope;
    p = shmpool_aligned_alloc(c, alignment, size == 0 ? 1 : size);
  }
  return Served(p, size, alignment);
}

// glibc's malloc_usable_size, found on first use (it has no __libc_ name).
size_t GlibcUsableSize(void* p) {
  using Fn = size_t (*)(void*);
  static std::atomic<Fn> fn{nullptr};
  Fn f = fn.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "malloc_usable_size"));
    fn.store(f, std::memory_order_release);
  }
  return f(p);
}

size_t UsableSize(void* p) {
  if (p == nullptr) return 0;
  if (!InArena(p)) return GlibcUsableSize(p);
  LibraryScope scope;
  return shmpool_usable_size(state.client, p);
}

}  // namespace
}  // namespace shmpool::preload

using namespace shmpool::preload;  // NOLINT: the exported names below are glibc's

extern "C" {

void* malloc(size_t size) {
  if (shmpool_client* c = ServingClient()) return ArenaMalloc(c, size);
  return __libc_malloc(size);
}

void free(void* p) {
  if (p == nullptr) return;
  if (!InArena(p)) return __libc_free(p);
  // A forked child's inherited blocks live in its private copy of the arena (attach.cc):
  // nothing to give back.
  if (state.mode.load(std::memory_order_relaxed) != Mode::kArena) return;
  LibraryScope scope;
  shmpool_free(state.client, p);
}

void* calloc(size_t n, size_t size) {
  shmpool_client* c = ServingClient();
  if (c == nullptr) return __libc_calloc(n, size);
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = ArenaMalloc(c, bytes);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void* realloc(void* p, size_t size) {
  if (p == nullptr) return malloc(size);
  if (!InArena(p)) return __libc_realloc(p, size);  // glibc's block stays glibc's
  if (size == 0) {                                  // as glibc: frees p, returns NULL
    free(p);
    return nullptr;
  }
  if (shmpool_client* c = ServingClient()) {
    void* q;
    {
      LibraryScope scope;
      q = shmpool_realloc(c, p, size);
    }
    if (q != nullptr) {
      NoteGeneration(q);
      return q;
    }
    if (shmpool_usable_size(c, p) == 0) return nullptr;  // refused: not a live block
  }
  // The arena is exhausted, or this is a forked child's inherited block (or a call from
  // inside the client library): a block from wherever malloc serves now, then the copy.
  const size_t have = UsableSize(p);
  void* q = malloc(size);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, size < have ? size : have);
  free(p);
  return q;
}

void* reallocarray(void* p, size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, bytes);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = AlignedAlloc(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return AlignedAlloc(alignment, size);
}

void* memalign(size_t alignment, size_t size) {
  // glibc rounds a non-power-of-two alignment up to the next power of two.
  size_t a = alignment < sizeof(void*) ? sizeof(void*) : alignment;
  if ((a & (a - 1)) != 0) a = size_t{1} << (64 - __builtin_clzl(a));
  return AlignedAlloc(a, size);
}

void* valloc(size_t size) { return AlignedAlloc(static_cast<size_t>(getpagesize()), size); }

void* pvalloc(size_t size) {
  const size_t page = static_cast<size_t>(getpagesize());
  size_t rounded;
  if (__builtin_add_overflow(size, page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  return AlignedAlloc(page, (rounded & ~(page - 1)) | (size == 0 ? page : 0));
}

size_t malloc_usable_size(void* p) { return UsableSize(p); }

}  // extern "C"
