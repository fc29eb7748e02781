// The refs of shmpool/preload.h: the C ABI's, on the preload's client, while it serves.
#include "shmpool/preload.h"

#include "preload/preload.h"

using shmpool::preload::LibraryScope;
using shmpool::preload::Mode;
using shmpool::preload::state;

extern "C" {

uint64_t shmpool_preload_ref_of(const void* p) {
  if (state.mode.load(std::memory_order_acquire) != Mode::kArena || !state.ranges.Holds(p))
    return 0;
  LibraryScope scope;
  return shmpool_ref_of(state.client, p);
}

void* shmpool_preload_ptr_of(uint64_t ref) {
  if (state.mode.load(std::memory_order_acquire) != Mode::kArena) return nullptr;
  void* p;
  {
    LibraryScope scope;
    p = shmpool_ptr_of(state.client, ref);
  }
  if (p != nullptr) shmpool::preload::NoteGeneration(p);  // freed here: its range must be known
  return p;
}

}  // extern "C"
