#include "shm/region.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "shm/check.h"

namespace shmpool::shm {
namespace {

constexpr uint64_t kAlign = 16;
uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

absl::StatusOr<Region> Region::Create(Heap& heap, uint64_t chunk_bytes) {
  chunk_bytes = std::max<uint64_t>(chunk_bytes, kPageSize);
  void* p = heap.Allocate(chunk_bytes);
  if (p == nullptr)
    return absl::ResourceExhaustedError("no room for a region: the arena is full or over quota");
  // Chunk header first, then the region header as the chunk's first allocation.
  auto* c = static_cast<RegionChunk*>(p);
  const uint64_t coff = heap.RefOf(p);
  *c = RegionChunk{.next = 0,
                   .size = chunk_bytes - sizeof(RegionChunk),
                   .used = sizeof(RegionHeader),
                   .reserved = 0};
  auto* h = reinterpret_cast<RegionHeader*>(c + 1);
  *h = RegionHeader{.magic = kRegionMagic,
                    .first = coff,
                    .current = coff,
                    .chunk_bytes = chunk_bytes,
                    .bytes = c->size,
                    .used = 0,
                    .allocations = 0,
                    .reserved = 0};
  return Region(&heap, heap.RefOf(h));
}

absl::StatusOr<Region> Region::Open(Heap& heap, uint64_t ref) {
  void* p = heap.PtrOf(ref);
  if (p == nullptr || ref % kAlign != 0 ||
      heap.UsableSize(static_cast<char*>(p) - sizeof(RegionChunk)) == 0)
    return absl::InvalidArgumentError(absl::StrFormat("ref %#x is not a region", ref));
  const auto* h = static_cast<const RegionHeader*>(p);
  if (h->magic != kRegionMagic)
    return absl::InvalidArgumentError(absl::StrFormat("ref %#x is not a region", ref));
  return Region(&heap, ref);
}

bool Region::Grow(uint64_t data) {
  RegionHeader& h = header();
  const uint64_t size = std::max(h.chunk_bytes, RoundUp(data + sizeof(RegionChunk), kAlign));
  void* p = heap_->Allocate(size);
  if (p == nullptr) return false;
  auto* c = static_cast<RegionChunk*>(p);
  *c = RegionChunk{.next = 0, .size = size - sizeof(RegionChunk), .used = 0, .reserved = 0};
  const uint64_t off = heap_->RefOf(p);
  chunk(h.current).next = off;  // linked first, then made current (region.h)
  h.current = off;
  h.bytes += c->size;
  return true;
}

void* Region::Allocate(size_t size) {
  RegionHeader& h = header();
  const uint64_t n = RoundUp(std::max<size_t>(size, 1), kAlign);
  RegionChunk* c = &chunk(h.current);
  if (__builtin_expect(c->size - c->used < n, 0)) {
    if (n > (uint64_t{1} << 40) || !Grow(n)) return nullptr;
    c = &chunk(h.current);
  }
  void* p = reinterpret_cast<char*>(c + 1) + c->used;
  c->used += n;
  h.used += n;
  ++h.allocations;
  return p;
}

void Region::Destroy() {
  RegionHeader& h = header();
  SHMPOOL_CHECK(h.magic == kRegionMagic);
  const uint64_t first = h.first;
  uint64_t off = chunk(first).next;
  while (off != 0) {
    const uint64_t next = chunk(off).next;
    chunk(first).next = next;  // unlinked before it is freed
    heap_->Free(heap_->PtrOf(off));
    off = next;
  }
  h.magic = 0;
  heap_->Free(heap_->PtrOf(first));
}

}  // namespace shmpool::shm
