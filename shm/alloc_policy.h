// How the malloc family's other entry points (aligned allocation, realloc) map onto the
// size classes, with no state of their own.
//
// Alignment: every block starts at a multiple of its class size from the start of its slab,
// and slabs and large runs start on a page (the data section is page-aligned in the
// segment, and every mapping of it starts on a page). So a block of a class whose size is
// a multiple of A (a power of two up to the page size) is A-aligned, in every process that
// maps the segment; every block is 16-aligned and every large block page-aligned. An
// aligned allocation is a plain allocation of such a class: free(), usable_size and refs
// see an ordinary block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm/size_class.h"

namespace shmpool::shm {

// The largest alignment AlignedSize serves: the page size.
inline constexpr size_t kMaxAlignment = kPageSize;

inline constexpr bool IsSupportedAlignment(size_t alignment) {
  return alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= kMaxAlignment;
}

// The size to allocate so that the block is `alignment`-aligned and holds `size` bytes:
// `size` itself when every block that serves it is aligned enough, else the size of the
// smallest class that holds `size` and is a multiple of `alignment` (the largest class,
// 32 KiB, is a multiple of every supported alignment). Needs IsSupportedAlignment.
inline size_t AlignedSize(size_t alignment, size_t size) {
  if (alignment <= kMinBlock || size > kMaxSmallSize) return size;
  for (uint32_t c = ClassOf(size);; ++c)
    if (Class(c).size % alignment == 0) return Class(c).size;
}

// Whether a live block of `usable` bytes (its class size, or its run's bytes) can serve a
// realloc to `size` where it is: a small block when `size` has the same class (so the
// waste stays what the class table allows), a large one when `size` is large, fits the
// run and uses more than half of it.
inline bool FitsInPlace(size_t usable, size_t size) {
  if (usable <= kMaxSmallSize) return ClassOf(size) == ClassOf(usable);
  return size > kMaxSmallSize && size <= usable && size > usable / 2;
}

}  // namespace shmpool::shm
