// Proves the size-class table keeps the promises size_class.h makes: ClassOf(n) is the
// smallest class that holds n for every small size, classes grow strictly in multiples of
// 16, every slab holds its blocks with bounded tail waste, the divisibility check the free
// fast path uses is exact for every offset inside a slab, and internal fragmentation stays
// within the stated bound.
#include "shm/size_class.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace shmpool::shm {
namespace {

TEST(SizeClass, TableShape) {
  EXPECT_EQ(kNumClasses, 41u);   // 8 classes 16..128, then 4 per doubling up to 32 KiB
  EXPECT_LT(kNumClasses, 256u);  // the page map keeps a class in 8 bits
  EXPECT_EQ(Class(0).size, 0u);
  EXPECT_EQ(Class(0).blocks, 0u);
  EXPECT_EQ(Class(1).size, kMinBlock);
  EXPECT_EQ(Class(kNumClasses - 1).size, kMaxSmallSize);
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    const SizeClassInfo& info = Class(c);
    SCOPED_TRACE(testing::Message() << "class " << c << " size " << info.size);
    EXPECT_EQ(info.size % 16, 0u);
    if (c > 1) {
      EXPECT_GT(info.size, Class(c - 1).size);
    }
  }
}

TEST(SizeClass, SpacingIsSixteenThenFourPerDoubling) {
  for (uint32_t c = 1; c <= 8; ++c) EXPECT_EQ(Class(c).size, 16 * c);
  uint32_t c = 9;
  for (uint32_t base = 128; base < kMaxSmallSize; base *= 2) {
    for (uint32_t k = 1; k <= 4; ++k) {
      EXPECT_EQ(Class(c).size, base + k * base / 4) << c;
      ++c;
    }
  }
  EXPECT_EQ(c, kNumClasses);
}

TEST(SizeClass, ClassOfIsTheSmallestClassThatFits) {
  for (size_t n = 0; n <= kMaxSmallSize; ++n) {
    const uint32_t c = ClassOf(n);
    ASSERT_GE(c, 1u) << n;
    ASSERT_LT(c, kNumClasses) << n;
    ASSERT_GE(Class(c).size, n) << n;
    if (c > 1) {
      ASSERT_LT(Class(c - 1).size, n) << n << " fits class " << c - 1;
    }
  }
}

TEST(SizeClass, LargeSizesHaveNoClass) {
  EXPECT_EQ(ClassOf(kMaxSmallSize + 1), 0u);
  EXPECT_EQ(ClassOf(kMaxSmallSize + 16), 0u);
  EXPECT_EQ(ClassOf(1 << 20), 0u);
  EXPECT_EQ(ClassOf(~size_t{0}), 0u);
}

TEST(SizeClass, SlabsHoldTheirBlocks) {
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    const SizeClassInfo& info = Class(c);
    SCOPED_TRACE(testing::Message() << "class " << c << " size " << info.size);
    const uint64_t bytes = uint64_t{info.slab_pages} * kPageSize;
    EXPECT_GE(info.slab_pages, 1u);
    EXPECT_LE(info.slab_pages, 64u);
    EXPECT_EQ(info.blocks, bytes / info.size);
    EXPECT_GE(info.blocks, 1u);
    const uint64_t used = uint64_t{info.blocks} * info.size;
    EXPECT_LE(used, bytes);
    // Tail waste: at most 1/8 of a slab for every class; the rule's 1/64 for every class
    // whose slab holds at least 8 blocks (the classes the rule does not have to relax).
    const uint64_t waste = bytes - used;
    EXPECT_LE(waste * 8, bytes) << "waste " << waste << " of " << bytes;
    if (info.blocks >= 8 && info.slab_pages >= 4) {
      EXPECT_LE(waste * 64, bytes) << "waste " << waste << " of " << bytes;
    }
    // The batch moves between caches and the ring: at least 2 blocks, at most 64.
    EXPECT_GE(info.batch, 2u);
    EXPECT_LE(info.batch, 64u);
    EXPECT_EQ(info.batch, std::min<uint32_t>(64, std::max<uint32_t>(2, 65536 / info.size)));
  }
}

// The free fast path asks "is this offset inside a slab a block start?" with one multiply.
// Check it against division for every byte offset of every class's slab, past the slab's
// last block (its tail waste) and past the slab itself.
TEST(SizeClass, BlockStartCheckIsExactForEveryOffsetInASlab) {
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    const SizeClassInfo& info = Class(c);
    const uint64_t bytes = uint64_t{info.slab_pages} * kPageSize;
    for (uint64_t x = 0; x < bytes + 2 * info.size; ++x) {
      const bool want = x % info.size == 0 && x / info.size < info.blocks;
      if (IsBlockStart(x, info) != want)
        FAIL() << "class " << c << " size " << info.size << " offset " << x << " wants " << want;
    }
  }
}

TEST(SizeClass, ClassZeroHasNoBlockStart) {
  for (uint64_t x : {0ull, 16ull, 4096ull, 1ull << 17, (1ull << 18) - 16})
    EXPECT_FALSE(IsBlockStart(x, Class(0))) << x;
}

// Internal fragmentation: above 128 B a request never wastes 20% or more of its block; at
// or below 128 B it wastes less than 16 bytes.
TEST(SizeClass, InternalFragmentationBound) {
  for (size_t n = 1; n <= kMaxSmallSize; ++n) {
    const uint32_t size = Class(ClassOf(n)).size;
    if (n > 128) {
      ASSERT_LT((size - n) * 5, size) << n << " -> " << size;
    } else {
      ASSERT_LT(size - n, 16u) << n << " -> " << size;
    }
  }
}

}  // namespace
}  // namespace shmpool::shm
