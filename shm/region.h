// Regions: bump allocation inside an arena, freed all at once. A region is a chain of
// chunks, each a block of the arena's heap (a large run for the default 64 KiB chunk);
// the first chunk starts with the RegionHeader, so the region is named by one offset
// (shmpool_ref) and any attached process of the tenant can open, extend or destroy it.
//
// What it holds (all offsets from the segment's start, 0 = none):
//   RegionHeader { magic, first, current, chunk_bytes, bytes (sum of chunk sizes),
//                  used (bytes handed out), allocations }
//   each chunk: RegionChunk { next, size, used } followed by its data.
// INVARIANTS: chunks form a 0-terminated list from `first` whose last element is
//   `current`; every chunk's used <= size; used is a multiple of 16 (allocations are
//   16-aligned).
//
// One writer at a time: a region is not thread-safe (like an arena allocator); hand it to
// another thread or process with its ref and stop using it. Allocate is O(1): a bump of
// the current chunk, or one heap allocation for a new chunk.
//
// Crash argument: a region's chunks are ordinary allocated blocks. A process killed while
// it holds a region leaves them allocated (like any block it malloc'ed: the application
// may have handed the region on); a new chunk is linked (current->next, then current) only
// after it is allocated, so a kill between the two leaves one chunk allocated and
// unreachable from the region until the arena is reset. Destroy frees the chunks one by
// one from `first`, unlinking each before freeing it, and the header's chunk last.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "shm/heap.h"

namespace shmpool::shm {

inline constexpr uint64_t kRegionMagic = 0x4e4f494745525053ull;  // "SPREGION"

struct RegionChunk {
  uint64_t next;
  uint64_t size;  // bytes of data after this header
  uint64_t used;
  uint64_t reserved;
};

struct RegionHeader {
  uint64_t magic;
  uint64_t first;    // offset of the first chunk (the one holding this header)
  uint64_t current;  // offset of the chunk bumps come from
  uint64_t chunk_bytes;
  uint64_t bytes;
  uint64_t used;
  uint64_t allocations;
  uint64_t reserved;
};

// A handle on a region: a Heap (this process's attachment) and the region's ref.
class Region {
 public:
  static constexpr uint64_t kDefaultChunk = 64 << 10;

  // Creates an empty region whose chunks are `chunk_bytes` (at least 4 KiB) or the size
  // of a larger request. RESOURCE_EXHAUSTED when the arena is full or over quota.
  static absl::StatusOr<Region> Create(Heap& heap, uint64_t chunk_bytes = kDefaultChunk);
  // Opens a region made by any process of this arena, from its ref.
  static absl::StatusOr<Region> Open(Heap& heap, uint64_t ref);

  // 16-aligned memory of `size` bytes, or nullptr when the arena is full or over quota.
  void* Allocate(size_t size);
  // Frees every chunk; the handle (and every other handle on it) is dead afterwards.
  void Destroy();

  uint64_t ref() const { return ref_; }
  uint64_t used() const { return header().used; }
  uint64_t bytes() const { return header().bytes; }
  uint64_t allocations() const { return header().allocations; }

 private:
  Region(Heap* heap, uint64_t ref) : heap_(heap), ref_(ref) {}
  RegionHeader& header() const { return *static_cast<RegionHeader*>(heap_->PtrOf(ref_)); }
  RegionChunk& chunk(uint64_t off) const { return *static_cast<RegionChunk*>(heap_->PtrOf(off)); }
  // Allocates and links a chunk of at least `data` bytes; false when the arena is full.
  bool Grow(uint64_t data);

  Heap* heap_;
  uint64_t ref_;
};

}  // namespace shmpool::shm
