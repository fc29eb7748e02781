// Client::Reallocate and Client::AllocateAligned: the malloc family beyond Allocate and
// Free, over the size classes (shm/alloc_policy.h).
#include <algorithm>
#include <cstring>

#include "shm/alloc_policy.h"
#include "shm/live_block.h"
#include "shmpool/client.h"

namespace shmpool {

const shm::Heap* Client::HeapHolding(const void* p) const {
  const MappedGeneration* cur = current_.load(std::memory_order_acquire);
  if (Holds(*cur, p)) return cur->heap.get();
  std::lock_guard<std::mutex> lock(mu_);
  const MappedGeneration* g = FindLocked(p);
  return g != nullptr ? g->heap.get() : nullptr;
}

void* Client::Reallocate(void* p, size_t size) {
  if (p == nullptr) return Allocate(size);
  const shm::Heap* h = HeapHolding(p);
  const size_t usable = h != nullptr ? shm::LiveBlockSize(*h, p) : 0;
  if (usable == 0) {
    Free(p);  // refuses it: counted and reported (or aborts) as for any invalid free
    return nullptr;
  }
  if (shm::FitsInPlace(usable, size)) return p;
  void* q = Allocate(size);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, std::min(usable, size));
  Free(p);
  return q;
}

void* Client::AllocateAligned(size_t alignment, size_t size) {
  if (!shm::IsSupportedAlignment(alignment)) return nullptr;
  return Allocate(shm::AlignedSize(alignment, size));
}

}  // namespace shmpool
