// shmpool::Client: the C++ API of the client library. A Client is one process's
// attachment to one arena; Allocate and Free run inside the mapped segment (see
// shm/heap.h for the fast path). Errors are absl::Status; allocation returns nullptr.
//
// Attach goes through shmpoold: the daemon says where the arena's segment is, the client
// maps it itself and keeps a session stream open on a background thread until it is
// destroyed (detach). After Attach, allocation and free make no RPC and no syscall.
//
// Arena reset (shmpoolctl arena reset) while attached: the daemon gives the arena a new,
// empty segment (its next generation) and says so on the session stream; the background
// thread maps the new generation and switches the client to it (one pointer store), and
// from then on Allocate returns blocks of the new generation. A client attached without
// the daemon, or one that missed the message, follows the reset when Generation() (or
// PtrOf with a ref of a newer generation) reads the retired mark in its segment header.
// Retired generations stay mapped until detach (or ReleaseRetired), so pointers into them
// stay readable and never fault; freeing one is refused and counted (StaleFrees, and the
// arena's stale_frees), never applied to the new generation. A call that raced with the
// switch may still return a block of the generation before it.
//
// Refs (RefOf, PtrOf, shmpool_ref) are position-independent: the low 48 bits are the
// block's offset in its segment, the high 16 bits the low 16 bits of its generation (0
// until the arena's first reset, so refs of an arena never reset are plain offsets).
// PtrOf of a ref of a retired generation gives the block in that generation if this client
// still maps it, else nullptr: never a block of another generation at the same offset.
//
// Pool and region handles stay on the generation they were opened in; reopen them after a
// reset (the pools are re-created, empty, in the new generation).
//
// fork() (see shmpool_attach in shmpool.h): in a child of a process that attached through
// the daemon, Attach fails at once with UNAVAILABLE (gRPC does not work after fork; fork
// before attaching, or exec), and the parent's Client refuses there: Allocate returns
// nullptr, Purge UNAVAILABLE, and destroying it leaves the parent's session alone.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shm/heap.h"
#include "shm/stats.h"

namespace shmpool {

namespace internal {
class DaemonLink;
struct Mapping;
}  // namespace internal

class Client {
 public:
  static constexpr int kRefGenerationShift = 48;
  static constexpr uint64_t kRefOffsetMask = (uint64_t{1} << kRefGenerationShift) - 1;
  // The generation bits of the refs of generation `generation`.
  static constexpr uint64_t RefTag(uint64_t generation) {
    return generation << kRefGenerationShift;
  }

  // Attaches through the daemon at `endpoint` ("unix:PATH" or "HOST:PORT"; empty:
  // $SHMPOOL_ENDPOINT, else the default socket) to the arena `arena` (its id, e.g.
  // "default"). options.name is the client's name in the daemon's stats (default: the
  // program's name). A daemon that is not answering is waited for up to
  // $SHMPOOL_ATTACH_TIMEOUT_MS (default 5000 ms; 0: not at all); UNAVAILABLE when it
  // still cannot be reached, or this build has no gRPC.
  static absl::StatusOr<std::unique_ptr<Client>> Attach(const std::string& endpoint,
                                                        const std::string& arena,
                                                        const shm::AttachOptions& options = {});
  // Attaches directly to a segment file (no daemon).
  static absl::StatusOr<std::unique_ptr<Client>> AttachSegment(
      const std::string& path, const shm::AttachOptions& options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Inline: the fast path reads the current heap's id and this thread's cache, not the heap.
  void* Allocate(size_t size) {
    return shm::Heap::AllocateOr(heap_id_.load(std::memory_order_relaxed), size, [this, size] {
      return heap_.load(std::memory_order_acquire)->AllocateSlow(size);
    });
  }
  void Free(void* p);
  size_t UsableSize(const void* p) const;
  // realloc: p's block when `size` fits its size class (or, for a large block, its run:
  // shm::FitsInPlace), else a new block holding the first min(size, usable) bytes of p,
  // p freed. A null p is Allocate(size); size 0 is served like any size (a minimum-size
  // block, as Allocate(0) gives), so nullptr always means failure, with p untouched and
  // still live. A p that Free would refuse (not a live block of this client's arena) is
  // refused the same way (counted and reported by Free's checks) and gives nullptr. A block
  // of a retired generation (arena reset) always moves into the current one (its free is
  // then refused and counted, as every free of a retired block is).
  void* Reallocate(void* p, size_t size);
  // A block of at least `size` bytes aligned to `alignment` (a power of two up to
  // shm::kMaxAlignment, the page size), freed by Free like any other; nullptr when the
  // alignment is not one of those or the arena is exhausted. The block is an ordinary block
  // of a class whose size is a multiple of the alignment (shm/alloc_policy.h), so its
  // UsableSize may exceed `size` by more than Allocate's would.
  void* AllocateAligned(size_t alignment, size_t size);
  uint64_t RefOf(const void* p) const;
  void* PtrOf(uint64_t ref);

  // The arena generation this client allocates from (0 until the arena's first reset, +1
  // per reset), after following a reset it has not followed yet.
  uint64_t Generation();
  // Frees this client refused because the block belongs to a retired generation.
  uint64_t StaleFrees() const { return stale_frees_.load(std::memory_order_relaxed); }
  // Unmaps the retired generations (returning what this process cached in them); returns
  // how many. No thread may still use a block of one, or be inside a call on this client
  // that began before the reset was followed (as for detach).
  int ReleaseRetired();

  // Returns this thread's cache and purges the arena (through the daemon when attached
  // through one); bytes released.
  absl::StatusOr<uint64_t> Purge();
  shm::ArenaStats Stats() const { return shm::CollectStats(heap().segment()); }
  // The heap of the current generation, and that generation, read together.
  struct Current {
    shm::Heap* heap;
    uint64_t generation;
  };
  Current current() const;
  shm::Heap& heap() const { return *heap_.load(std::memory_order_acquire); }
  bool through_daemon() const { return link_ != nullptr; }

 private:
  // One mapped generation of the arena. Kept until detach or ReleaseRetired: other threads
  // may still be inside a call on it.
  struct MappedGeneration {
    std::unique_ptr<shm::Heap> heap;
    const char* base = nullptr;
    uint64_t number = 0;
    uint64_t ref_tag = 0;                 // RefTag(number)
    mutable bool stale_reported = false;  // guarded by mu_
  };

  Client(std::unique_ptr<shm::Heap> heap, std::string path, shm::AttachOptions options);
  // Maps the arena's file if it holds a generation newer than the current one and at least
  // `at_least`, and switches to it. Returns the mapping the client allocates from.
  absl::StatusOr<internal::Mapping> Follow(uint64_t at_least);
  void PublishLocked(std::unique_ptr<MappedGeneration> g);
  // The outside handler of every generation's heap (shm::Heap::SetOutsideHandler): p lies
  // outside the heap Free was called on. Looked up under mu_.
  static void FreeOutside(void* client, void* p);
  // The heap of the generation whose mapping holds p, or nullptr.
  const shm::Heap* HeapHolding(const void* p) const;
  uint64_t RefOfOther(const void* p) const;
  void* PtrOfOther(uint64_t ref);
  // The generation whose mapping holds p, or nullptr. Under mu_.
  const MappedGeneration* FindLocked(const void* p) const;
  bool Holds(const MappedGeneration& g, const void* p) const {
    return static_cast<uint64_t>(static_cast<const char*>(p) - g.base) < segment_bytes_;
  }

  const uint64_t segment_bytes_;  // the same for every generation (same geometry)
  const std::string path_;        // the arena's segment file: each generation's, in turn
  const shm::AttachOptions options_;
  // The current generation: heap_ for Allocate and Free, current_ for everything else, and
  // heap_id_ == heap_->id() for Allocate's fast path (a thread's slot that names it holds
  // that heap's cache, so the three need not be read together). Switched together
  // (release) and only ever naming a live MappedGeneration.
  std::atomic<shm::Heap*> heap_;
  std::atomic<uint64_t> heap_id_;
  std::atomic<const MappedGeneration*> current_;
  std::atomic<uint64_t> stale_frees_{0};
  // std::mutex rather than absl::Mutex: TSan sees its synchronisation (as in shm/pool.h).
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MappedGeneration>> generations_;  // guarded by mu_; current last
  bool detaching_ = false;                                      // guarded by mu_
  std::unique_ptr<internal::DaemonLink> link_;  // null when attached without the daemon
};

// Free: one load of the current heap, then shm::Heap's Free. A pointer outside that heap's
// mapping (a retired generation's block, or a heap this call raced past) reaches
// FreeOutside through the heap's outside handler, from its slow path.
__attribute__((always_inline)) inline void Client::Free(void* p) {
  heap_.load(std::memory_order_acquire)->Free(p);
}

inline uint64_t Client::RefOf(const void* p) const {
  const MappedGeneration* g = current_.load(std::memory_order_acquire);
  if (__builtin_expect(Holds(*g, p), 1))
    return static_cast<uint64_t>(static_cast<const char*>(p) - g->base) | g->ref_tag;
  return RefOfOther(p);
}

inline void* Client::PtrOf(uint64_t ref) {
  const MappedGeneration* g = current_.load(std::memory_order_acquire);
  const uint64_t off = ref & kRefOffsetMask;
  if (__builtin_expect((ref & ~kRefOffsetMask) == g->ref_tag && off != 0 && off < segment_bytes_,
                       1))
    return const_cast<char*>(g->base) + off;
  return PtrOfOther(ref);
}

}  // namespace shmpool
