// The C ABI's realloc and aligned allocation: wrappers over Client::Reallocate and
// Client::AllocateAligned.
#include <cerrno>

#include "shm/alloc_policy.h"
#include "shmpool/client.h"
#include "shmpool/shmpool.h"

#include "src/c_api_internal.h"

using shmpool::internal::ClientOf;

static_assert(SHMPOOL_MAX_ALIGNMENT == shmpool::shm::kMaxAlignment);

extern "C" {

void* shmpool_realloc(shmpool_client* c, void* p, size_t size) {
  return ClientOf(c)->Reallocate(p, size);
}

void* shmpool_aligned_alloc(shmpool_client* c, size_t alignment, size_t size) {
  if (!shmpool::shm::IsSupportedAlignment(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  void* p = ClientOf(c)->AllocateAligned(alignment, size);
  if (p == nullptr) errno = ENOMEM;
  return p;
}

int shmpool_posix_memalign(shmpool_client* c, void** out, size_t alignment, size_t size) {
  if (out == nullptr || alignment < sizeof(void*) || !shmpool::shm::IsSupportedAlignment(alignment))
    return EINVAL;
  void* p = ClientOf(c)->AllocateAligned(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"
