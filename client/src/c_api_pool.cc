// The C ABI of pools and regions: thin wrappers over shm::Pool and shm::Region.
#include <new>

#include "absl/strings/str_format.h"
#include "shm/pool.h"
#include "shm/region.h"
#include "shmpool/shmpool.h"
#include "src/c_api_internal.h"

struct shmpool_pool {
  std::unique_ptr<shmpool::shm::Pool> pool;
};

// A region and its generation's ref bits (client.h): its refs name that generation.
struct shmpool_region {
  shmpool::shm::Region region;
  uint64_t ref_tag;
};

using shmpool::internal::ClientOf;

extern "C" {

int shmpool_pool_open(shmpool_client* c, const char* name, shmpool_pool** out) {
  if (c == nullptr || name == nullptr || out == nullptr)
    return shmpool::internal::StatusToCode(
        absl::InvalidArgumentError("shmpool_pool_open: c, name and out must not be NULL"));
  shmpool::shm::Heap& heap = *ClientOf(c)->current().heap;
  // Non-owning: the client (and its segment) outlives its pools (shmpool.h).
  std::shared_ptr<shmpool::shm::Segment> seg(std::shared_ptr<void>(), &heap.segment());
  absl::StatusOr<std::unique_ptr<shmpool::shm::Pool>> p =
      shmpool::shm::Pool::Open(std::move(seg), heap.proc_index(), name);
  if (!p.ok()) return shmpool::internal::StatusToCode(p.status());
  *out = new (std::nothrow) shmpool_pool{std::move(*p)};
  return *out ? SHMPOOL_OK : SHMPOOL_E_EXHAUSTED;
}

void shmpool_pool_close(shmpool_pool* pool) { delete pool; }

void* shmpool_pool_get(shmpool_pool* pool) { return pool->pool->Get(); }

int shmpool_pool_put(shmpool_pool* pool, void* obj) {
  return pool->pool->Put(obj) ? SHMPOOL_OK : SHMPOOL_E_INVALID;
}

size_t shmpool_pool_object_size(const shmpool_pool* pool) { return pool->pool->object_size(); }
size_t shmpool_pool_headroom(const shmpool_pool* pool) { return pool->pool->headroom(); }

int shmpool_region_create(shmpool_client* c, size_t chunk_bytes, shmpool_region** out) {
  if (c == nullptr || out == nullptr)
    return shmpool::internal::StatusToCode(
        absl::InvalidArgumentError("shmpool_region_create: c and out must not be NULL"));
  const shmpool::Client::Current cur = ClientOf(c)->current();
  absl::StatusOr<shmpool::shm::Region> r = shmpool::shm::Region::Create(
      *cur.heap, chunk_bytes ? chunk_bytes : shmpool::shm::Region::kDefaultChunk);
  if (!r.ok()) return shmpool::internal::StatusToCode(r.status());
  *out = new (std::nothrow) shmpool_region{*r, shmpool::Client::RefTag(cur.generation)};
  return *out ? SHMPOOL_OK : SHMPOOL_E_EXHAUSTED;
}

int shmpool_region_open(shmpool_client* c, shmpool_ref ref, shmpool_region** out) {
  if (c == nullptr || out == nullptr)
    return shmpool::internal::StatusToCode(
        absl::InvalidArgumentError("shmpool_region_open: c and out must not be NULL"));
  using shmpool::Client;
  const uint64_t tag = ref & ~Client::kRefOffsetMask;
  if (tag != Client::RefTag(ClientOf(c)->current().generation)) ClientOf(c)->Generation();
  const Client::Current cur = ClientOf(c)->current();
  if (tag != Client::RefTag(cur.generation))
    return shmpool::internal::StatusToCode(absl::NotFoundError(absl::StrFormat(
        "shmpool_region_open: ref %#x is not of the arena's generation %d (the arena was reset "
        "since the region was made)",
        ref, cur.generation)));
  absl::StatusOr<shmpool::shm::Region> r =
      shmpool::shm::Region::Open(*cur.heap, ref & Client::kRefOffsetMask);
  if (!r.ok()) return shmpool::internal::StatusToCode(r.status());
  *out = new (std::nothrow) shmpool_region{*r, tag};
  return *out ? SHMPOOL_OK : SHMPOOL_E_EXHAUSTED;
}

void* shmpool_region_alloc(shmpool_region* r, size_t size) { return r->region.Allocate(size); }

shmpool_ref shmpool_region_ref(const shmpool_region* r) { return r->region.ref() | r->ref_tag; }

void shmpool_region_destroy(shmpool_region* r) {
  r->region.Destroy();
  delete r;
}

void shmpool_region_close(shmpool_region* r) { delete r; }

}  // extern "C"
