// LiveBlockSize: whether a pointer is a block of a heap's segment that is handed out now,
// by the checks free() makes, without freeing it (realloc reads the block before it moves).
#pragma once

#include <cstddef>

#include "shm/heap.h"

namespace shmpool::shm {

// The usable size of `p` (its class size, or its run's bytes) when free() would accept
// it: the start of a block of a live slab that does not carry its free tag (not a double
// free), or the first byte of a large run. 0 for anything free() refuses (nullptr, outside
// the data pages, an interior pointer, a free block, a pool object, a parked page).
size_t LiveBlockSize(const Heap& heap, const void* p);

}  // namespace shmpool::shm
