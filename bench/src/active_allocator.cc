// Checks which malloc the running process really uses (see active_allocator.h).
#include "bench/src/active_allocator.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bench/src/clock.h"

namespace shmpool::bench {
namespace {

// The file name of the shared object that defines `symbol` for RTLD_DEFAULT lookups (the
// definition calls bind to), or "" when no object defines it.
std::string LibraryDefining(const char* symbol) {
  void* f = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info;
  if (f == nullptr || dladdr(f, &info) == 0 || info.dli_fname == nullptr) return "";
  const char* slash = std::strrchr(info.dli_fname, '/');
  return slash ? slash + 1 : info.dli_fname;
}

template <typename F>
F Lookup(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

bool Has(const char* name) { return dlsym(RTLD_DEFAULT, name) != nullptr; }

// jemalloc: its per-thread byte counter grows by what malloc() hands out.
bool JemallocOwnsMalloc(std::string* evidence) {
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  auto mallctl = Lookup<Mallctl>("mallctl");
  if (mallctl == nullptr) return *evidence += "; no mallctl symbol", false;
  uint64_t before = 0, after = 0;
  size_t len = sizeof(uint64_t);
  if (mallctl("thread.allocated", &before, &len, nullptr, 0) != 0)
    return *evidence += "; mallctl(thread.allocated) failed", false;
  void* p = std::malloc(1 << 20);
  Escape(p);
  mallctl("thread.allocated", &after, &len, nullptr, 0);
  std::free(p);
  *evidence += "; mallctl thread.allocated grew by " + std::to_string(after - before);
  return after - before >= (1 << 20);
}

// tcmalloc (gperftools): MallocExtension_GetOwnership says kOwned (1) for its blocks.
bool TcmallocOwnsMalloc(std::string* evidence) {
  using Version = const char* (*)(int*, int*, const char**);
  using Ownership = int (*)(const void*);
  auto version = Lookup<Version>("tc_version");
  auto ownership = Lookup<Ownership>("MallocExtension_GetOwnership");
  if (version == nullptr || ownership == nullptr)
    return *evidence += "; no tc_version/MallocExtension_GetOwnership", false;
  void* p = std::malloc(64);
  Escape(p);
  const int owned = ownership(p);
  std::free(p);
  *evidence += std::string("; ") + version(nullptr, nullptr, nullptr) +
               ", GetOwnership(malloc(64)) = " + std::to_string(owned);
  return owned == 1;
}

// mimalloc: mi_is_in_heap_region is true for its blocks.
bool MimallocOwnsMalloc(std::string* evidence) {
  using Version = int (*)();
  using InHeap = bool (*)(const void*);
  auto version = Lookup<Version>("mi_version");
  auto in_heap = Lookup<InHeap>("mi_is_in_heap_region");
  if (version == nullptr || in_heap == nullptr)
    return *evidence += "; no mi_version/mi_is_in_heap_region", false;
  void* p = std::malloc(64);
  Escape(p);
  const bool owned = in_heap(p);
  std::free(p);
  *evidence += "; mi_version " + std::to_string(version()) +
               ", mi_is_in_heap_region(malloc(64)) = " + (owned ? "true" : "false");
  return owned;
}

}  // namespace

bool VerifyActiveMalloc(const std::string& expected, std::string* evidence) {
  const std::string malloc_lib = LibraryDefining("malloc");
  const std::string free_lib = LibraryDefining("free");
  *evidence = "malloc from " + malloc_lib + ", free from " + free_lib;
  if (malloc_lib != free_lib) return false;
  const bool foreign_jemalloc = Has("mallctl"), foreign_tcmalloc = Has("tc_version"),
             foreign_mimalloc = Has("mi_version");
  if (expected == "glibc") {
    if (foreign_jemalloc || foreign_tcmalloc || foreign_mimalloc)
      return *evidence += "; another allocator is loaded", false;
    return malloc_lib.rfind("libc.so", 0) == 0;
  }
  if (malloc_lib.find(expected) == std::string::npos) return false;
  if (expected == "jemalloc") return JemallocOwnsMalloc(evidence);
  if (expected == "tcmalloc") return TcmallocOwnsMalloc(evidence);
  if (expected == "mimalloc") return MimallocOwnsMalloc(evidence);
  *evidence += "; unknown allocator name " + expected;
  return false;
}

}  // namespace shmpool::bench
