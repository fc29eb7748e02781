// The size-class table: the one place that says which block sizes exist, how many pages a
// slab of each class spans, and how many blocks move between a thread cache and the
// central ring at once. Generated at compile time by one rule (below), never written out.
//
// Rule: classes 16..128 step 16, then four classes per doubling up to 32 KiB (jemalloc's
// spacing, so internal fragmentation stays under 20% above 128 B). Requests above 32 KiB
// are large: runs of whole pages. The smallest class is 16, not 8: every free block holds
// two words (the list link and the double-free tag, see layout.h), and 16 is max_align_t.
// A slab of each class spans the number of 4 KiB pages in [1, 64] that wastes the least
// tail, taking the first of at least 4 pages and 8 blocks whose waste is within 1/64.
//
// Invariants: class 0 means "not a small size"; ids 1..kNumClasses-1 grow strictly in size;
// every size is a multiple of 16; ClassOf(n) is the smallest class with size >= n.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace shmpool::shm {

inline constexpr uint32_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint32_t kMinBlock = 16;
inline constexpr uint32_t kMaxSmallSize = 32768;

struct SizeClassInfo {
  uint32_t size;        // block size in bytes
  uint32_t slab_pages;  // pages per slab
  uint32_t blocks;      // blocks per slab
  uint32_t batch;       // blocks moved per refill/drain between a thread cache and the ring
  uint64_t block_mul;   // see IsBlockStart
  uint64_t block_lim;
};
// The size of a per-class record that the fast paths index by class (this table, Bin).
inline constexpr uint32_t kClassStride = 32;
static_assert(sizeof(SizeClassInfo) == kClassStride, "the fast paths index the table");

// Offsets inside a slab are below 2^kMaxSlabOffsetBits (64 pages): what IsBlockStart needs.
inline constexpr uint32_t kMaxSlabOffsetBits = 18;

// True iff offset x (< 2^kMaxSlabOffsetBits) inside a slab of this class is the start of
// one of its blocks, in one multiply and one compare. With d = size, c = floor(2^64 / d) + 1
// and e = d * c mod 2^64 (0 < e <= d): for x = k*d + j (0 <= j < d), x * c mod 2^64 is k*e
// when j == 0, and at least c > 2^49 otherwise (no wrap: (d-1)*c + k*e < 2^64). So x is a
// block start iff x * c < (blocks - 1) * e + 1. Class 0 (not a slab) has limit 0: never.
// (After Lemire, Kaser and Kurz, "Faster remainder by direct computation", 2019.)
inline bool IsBlockStart(uint64_t x, const SizeClassInfo& info) {
  return x * info.block_mul < info.block_lim;
}

namespace internal {

constexpr int CountClasses() {
  int n = 1;  // class 0
  for (uint32_t s = 16; s <= 128; s += 16) ++n;
  for (uint32_t base = 128; base < kMaxSmallSize; base *= 2) n += 4;
  return n;
}

inline constexpr uint32_t kMaxSlabPages = 64;
static_assert(uint64_t{kMaxSlabPages} * kPageSize <= uint64_t{1} << kMaxSlabOffsetBits,
              "every offset inside a slab is one IsBlockStart is exact for");
static_assert(kMaxSmallSize <= uint32_t{1} << 15,
              "IsBlockStart: c = 2^64 / size + 1 > 2^49 for every small size");

constexpr SizeClassInfo MakeClass(uint32_t size) {
  uint32_t best_pages = 1;
  uint64_t best_waste = ~uint64_t{0};
  for (uint32_t p = 1; p <= kMaxSlabPages; ++p) {
    const uint64_t bytes = p * kPageSize;
    if (bytes < size) continue;
    const uint64_t waste = bytes % size;
    // Prefer the smallest slab of at least 4 pages and 8 blocks whose waste is within 1/64
    // of it (fewer, larger slabs mean fewer trips to the page heap).
    if (p >= 4 && waste * 64 <= bytes && (bytes / size >= 8 || p == kMaxSlabPages)) {
      best_pages = p;
      best_waste = waste;
      break;
    }
    if (waste * best_pages * kPageSize < best_waste * bytes) {  // lower waste ratio
      best_waste = waste;
      best_pages = p;
    }
  }
  const uint32_t blocks = static_cast<uint32_t>(best_pages * kPageSize / size);
  // 64 KiB per batch (at most 64 blocks): a cross-process producer/consumer pair pays one
  // ring operation per batch, and 2 KiB packet buffers measured 2x faster with 32 than 8.
  uint32_t batch = 65536 / size;
  if (batch > 64) batch = 64;
  if (batch < 2) batch = 2;
  const uint64_t mul = ~uint64_t{0} / size + 1 + (((~uint64_t{0} % size) + 1) == size ? 1 : 0);
  const uint64_t e = size * mul;  // mod 2^64
  return SizeClassInfo{size, best_pages, blocks, batch, mul, (blocks - 1) * e + 1};
}

constexpr auto BuildClasses() {
  std::array<SizeClassInfo, CountClasses()> t{};
  int i = 1;
  for (uint32_t s = 16; s <= 128; s += 16) t[i++] = MakeClass(s);
  for (uint32_t base = 128; base < kMaxSmallSize; base *= 2)
    for (uint32_t k = 1; k <= 4; ++k) t[i++] = MakeClass(base + k * base / 4);
  return t;
}

}  // namespace internal

inline constexpr auto kClasses = internal::BuildClasses();
inline constexpr uint32_t kNumClasses = kClasses.size();
static_assert(kClasses[kNumClasses - 1].size == kMaxSmallSize, "the last class is kMaxSmallSize");
static_assert(kNumClasses * kClassStride <= 65536,
              "class offsets fit the lookup tables' uint16_t entries");

namespace internal {

// Lookup tables: sizes <= kSmallLookupMax in steps of 16, sizes <= kMaxSmallSize in steps
// of 128 (ClassOffsetOf indexes them by (size + step - 1) / step). Both hold kLookupEntries
// entries, which must cover their last index. Each entry is the class times kClassStride,
// the byte offset of the class's entry in an array of 32-byte records indexed by class
// (kClasses, a thread cache's bins), so malloc's fast path indexes its bin with no shift.
inline constexpr uint32_t kSmallLookupMax = 1024;
inline constexpr size_t kLookupEntries = 257;
static_assert(kSmallLookupMax % 16 == 0 && kSmallLookupMax / 16 + 1 <= kLookupEntries,
              "the small table has an entry for every size up to kSmallLookupMax");
static_assert(kMaxSmallSize % 128 == 0 && kMaxSmallSize / 128 + 1 == kLookupEntries,
              "the medium table has an entry for every size up to kMaxSmallSize");

constexpr auto BuildLookup(uint32_t step, uint32_t max) {
  std::array<uint16_t, kLookupEntries> t{};
  for (uint32_t i = 0; i * step <= max && i < t.size(); ++i) {
    uint32_t c = 1;
    while (kClasses[c].size < i * step) ++c;
    t[i] = static_cast<uint16_t>(c * kClassStride);
  }
  return t;
}
inline constexpr auto kLookupSmall = BuildLookup(16, kSmallLookupMax);
inline constexpr auto kLookupMedium = BuildLookup(128, kMaxSmallSize);

}  // namespace internal

// ClassOf(size) * kClassStride: the byte offset of its class in an array of 32-byte records.
inline uint32_t ClassOffsetOf(size_t size) {
  if (size <= internal::kSmallLookupMax) return internal::kLookupSmall[(size + 15) >> 4];
  if (size <= kMaxSmallSize) return internal::kLookupMedium[(size + 127) >> 7];
  return 0;
}

// The class that serves `size` bytes, or 0 when `size` is large.
inline uint32_t ClassOf(size_t size) { return ClassOffsetOf(size) / kClassStride; }

inline const SizeClassInfo& Class(uint32_t c) { return kClasses[c]; }

}  // namespace shmpool::shm
