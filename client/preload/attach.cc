// The preloaded allocator's life cycle: reads the configuration and attaches to the arena
// when the program starts (after every shared library is initialised, before the program's
// own constructors), gives the attach's own allocations to glibc, and at fork makes the
// child's copy of the arena private. README.md has the configuration and what a forked
// child does.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "preload/preload.h"
#include "src/c_api_internal.h"

namespace shmpool::preload {

constinit State state;

namespace {

// The segment file behind a range, for fork: its descriptor (-1: unknown) and its identity,
// since the program may close the descriptor or reuse its number.
struct RangeFile {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
};

std::mutex ranges_mu;  // serialises appends to state.ranges
RangeFile range_file[Ranges::kMax];

bool EnvIs(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

void AddRange(uintptr_t base, int fd) {
  const uint32_t n = state.ranges.count.load(std::memory_order_relaxed);
  if (n == Ranges::kMax) return;  // NoteGeneration asks the client for the rest
  state.ranges.base[n] = base;
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0) range_file[n] = {fd, st.st_dev, st.st_ino};
  state.ranges.count.store(n + 1, std::memory_order_release);
}

// Whether `f.fd` still is the segment file.
bool SameFile(const RangeFile& f) {
  struct stat st;
  return f.fd >= 0 && fstat(f.fd, &st) == 0 && st.st_dev == f.dev && st.st_ino == f.ino;
}

// Copies the pages of [from, from + bytes) that are in memory (mincore): a mapping whose file
// is not known any more. Pages of the file swapped out read as zeros in the copy.
void CopyResident(char* to, const char* from, size_t bytes) {
  constexpr size_t kChunkPages = 1024;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  unsigned char resident[kChunkPages];
  for (size_t off = 0; off < bytes; off += kChunkPages * page) {
    const size_t len = std::min(kChunkPages * page, bytes - off);
    if (mincore(const_cast<char*>(from + off), len, resident) != 0) continue;
    for (size_t i = 0; i < len / page; ++i)
      if (resident[i] & 1) std::memcpy(to + off + i * page, from + off + i * page, page);
  }
}

// Copies the part of the mapping at `base` that holds data (the file's data extents, read
// from the file; holes read as zeros) into anonymous memory and moves it over the shared mapping:
// the child writes no block of its parent from then on, and reads what the arena held at that
// moment.
bool Privatize(uintptr_t base, uintptr_t bytes, const RangeFile& file) {
  if (state.fork_cow && SameFile(file))  // the file, mapped private: copy on write, no copy now
    return mmap(reinterpret_cast<void*>(base), bytes, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_FIXED, file.fd, 0) != MAP_FAILED;
  void* copy = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (copy == MAP_FAILED) return false;
  char* to = static_cast<char*>(copy);
  const char* from = reinterpret_cast<const char*>(base);
  if (SameFile(file)) {
    const off_t end = static_cast<off_t>(bytes);
    for (off_t at = 0; at < end;) {
      const off_t data = lseek(file.fd, at, SEEK_DATA);
      if (data < 0 || data >= end) break;  // ENXIO: no data after `at`
      off_t hole = lseek(file.fd, data, SEEK_HOLE);
      if (hole < 0 || hole > end) hole = end;
      // pread, not memcpy: the child has no page table entries for the shared mapping yet,
      // and reading the file does not fault them in page by page.
      for (at = data; at < hole;) {
        const ssize_t got = pread(file.fd, to + at, static_cast<size_t>(hole - at), at);
        if (got <= 0) return munmap(copy, bytes), false;
        at += got;
      }
    }
  } else {
    CopyResident(to, from, bytes);
  }
  return mremap(copy, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, from) != MAP_FAILED;
}

// pthread_atfork child handler. gRPC's session does not survive fork, and the parent's Heap
// refuses to serve a child: the child allocates from glibc, and its copy of the arena becomes
// private so that writes to inherited blocks stay in the child (as fork promises).
void AfterForkInChild() {
  if (state.mode.load(std::memory_order_relaxed) != Mode::kArena) return;
  state.mode.store(Mode::kGlibc, std::memory_order_relaxed);
  const uint32_t n = state.ranges.count.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < n; ++i)
    if (!Privatize(state.ranges.base[i], state.ranges.bytes, range_file[i]))
      Say("the forked child %d shares the arena mapping at %p with its parent (%s)",
          static_cast<int>(getpid()), reinterpret_cast<void*>(state.ranges.base[i]),
          std::strerror(errno));
}

void Attach() {
  state.quiet = EnvIs("SHMPOOL_MALLOC_QUIET", "1");
  state.fallback_to_glibc = !EnvIs("SHMPOOL_MALLOC_FALLBACK", "fail");
  state.fork_cow = EnvIs("SHMPOOL_MALLOC_FORK", "cow");
  const char* arena = std::getenv("SHMPOOL_ARENA");
  if (arena == nullptr || *arena == '\0') {
    Say("SHMPOOL_ARENA is not set: the heap is glibc's");
    state.mode.store(Mode::kGlibc, std::memory_order_release);
    return;
  }
  shmpool_client* c = nullptr;
  int rc;
  {
    LibraryScope scope;  // gRPC, protobuf and abseil allocate inside: glibc serves them
    rc = shmpool_attach(nullptr, arena, &c);
  }
  if (rc != SHMPOOL_OK) {
    Say("cannot attach to arena %s (%s: %s): the heap is glibc's", arena, shmpool_strerror(rc),
        shmpool_last_error());
    state.mode.store(Mode::kGlibc, std::memory_order_release);
    return;
  }
  const shm::Segment& seg = shmpool::internal::ClientOf(c)->heap().segment();
  state.ranges.bytes = seg.sections().total;
  AddRange(reinterpret_cast<uintptr_t>(seg.base()), seg.fd());
  state.client = c;
  pthread_atfork(nullptr, nullptr, &AfterForkInChild);
  state.mode.store(Mode::kArena, std::memory_order_release);
}

using StartMain = int (*)(int (*)(int, char**, char**), int, char**, void (*)(), void (*)(),
                          void (*)(), void*);

}  // namespace

void NoteGeneration(const void* p) {
  if (state.ranges.Holds(p)) return;
  LibraryScope scope;
  std::lock_guard<std::mutex> lock(ranges_mu);
  if (state.ranges.Holds(p)) return;
  const shmpool::Client::Current cur = shmpool::internal::ClientOf(state.client)->current();
  const shm::Segment& seg = cur.heap->segment();
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t base = reinterpret_cast<uintptr_t>(seg.base());
  if (a - base < state.ranges.bytes) {
    AddRange(base, seg.fd());
  } else {  // the block's generation is the one before the current one (a reset raced)
    const shmpool_ref r = shmpool_ref_of(state.client, p);
    AddRange(a - (r & shmpool::Client::kRefOffsetMask), -1);
  }
}

void* OnExhausted(size_t size, size_t alignment) {
  static std::atomic<bool> reported{false};
  if (!reported.exchange(true))
    Say("arena exhausted (a request of %zu bytes): %s", size,
        state.fallback_to_glibc ? "glibc serves what the arena cannot"
                                : "returning NULL (SHMPOOL_MALLOC_FALLBACK=fail)");
  if (!state.fallback_to_glibc) {
    errno = ENOMEM;
    return nullptr;
  }
  return alignment == 0 ? __libc_malloc(size) : __libc_memalign(alignment, size);
}

void Say(const char* fmt, ...) {
  if (state.quiet) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "shmpool_malloc: %s\n", line);
}

}  // namespace shmpool::preload

// The program's start (its _start calls it), wrapped: every shared library, this one and the
// client library's dependencies included, is initialised by then, and the program's own
// constructors and main run after the attach. The client is never detached: blocks freed by
// atexit handlers and static destructors still go to the arena (Heap serves a thread whose
// cache is gone uncached), and the daemon ends the session when the process exits.
extern "C" int __libc_start_main(int (*main)(int, char**, char**), int argc, char** argv,
                                 void (*init)(), void (*fini)(), void (*rtld_fini)(),
                                 void* stack_end) {
  using namespace shmpool::preload;  // NOLINT
  const auto start = reinterpret_cast<StartMain>(dlsym(RTLD_NEXT, "__libc_start_main"));
  Attach();
  return start(main, argc, argv, init, fini, rtld_fini, stack_end);
}
