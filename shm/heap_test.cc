#include "shm/heap.h"

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "shm/purge.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

TEST(Heap, AllocateFreeEverySizeClass) {
  TempSegment ts(512 << 20);
  auto heap = Heap::Attach(ts.segment());
  ASSERT_TRUE(heap.ok()) << heap.status();
  std::vector<void*> blocks;
  for (size_t size = 0; size <= kMaxSmallSize + 3 * kPageSize; size += 7) {
    void* p = (*heap)->Allocate(size);
    ASSERT_NE(p, nullptr) << size;
    ASSERT_GE((*heap)->UsableSize(p), size);
    std::memset(p, 0xab, size);
    blocks.push_back(p);
  }
  std::set<void*> unique(blocks.begin(), blocks.end());
  EXPECT_EQ(unique.size(), blocks.size());
  for (void* p : blocks) (*heap)->Free(p);
  (*heap)->FlushThreadCache();
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
  ArenaStats s = CollectStats(*ts.segment());
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(s.nmalloc, blocks.size());
  EXPECT_EQ(s.nfree, blocks.size());
}

TEST(Heap, RefRoundTrip) {
  TempSegment ts(16 << 20);
  auto heap = *Heap::Attach(ts.segment());
  void* p = heap->Allocate(100);
  uint64_t ref = heap->RefOf(p);
  EXPECT_NE(ref, 0u);
  EXPECT_EQ(heap->PtrOf(ref), p);
  EXPECT_EQ(heap->PtrOf(0), nullptr);
  heap->Free(p);
}

TEST(Heap, DoubleAndInvalidFreesAreRefusedAndCounted) {
  TempSegment ts(16 << 20);
  auto heap = *Heap::Attach(ts.segment());
  char* p = static_cast<char*>(heap->Allocate(64));
  char* q = static_cast<char*>(heap->Allocate(100000));
  heap->Free(p);
  heap->Free(p);         // double free (cached)
  heap->Free(p + 64);    // the next block: never handed out, so already free
  heap->Free(p + 8);     // misaligned
  heap->Free(q + 4096);  // inside a large block
  heap->Free(q);
  heap->Free(q);  // double free of a large block
  int local;
  heap->Free(&local);   // outside the arena
  heap->Free(nullptr);  // nothing
  ArenaStats s = CollectStats(*ts.segment());
  EXPECT_EQ(s.double_frees, 3u);
  EXPECT_EQ(s.invalid_frees, 3u);
  heap->FlushThreadCache();
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
}

// Fills the arena in one class, frees it all, purges, and checks the whole capacity can
// be allocated again in another class.
TEST(Heap, ExhaustionReturnsNullAndEverythingComesBack) {
  constexpr uint64_t kCapacity = 4 << 20;
  TempSegment ts(kCapacity);
  auto heap = *Heap::Attach(ts.segment());
  for (uint32_t cls : {1u, 12u, 24u, 40u, 5u}) {
    const SizeClassInfo& info = Class(cls);
    std::vector<void*> v;
    while (void* p = heap->Allocate(info.size)) v.push_back(p);
    const uint64_t slabs = (kCapacity >> kPageShift) / info.slab_pages;
    EXPECT_EQ(v.size(), slabs * info.blocks) << "class " << cls;
    EXPECT_EQ(heap->Allocate(1 << 20), nullptr);
    for (void* p : v) heap->Free(p);
    heap->FlushThreadCache();
    Purge(*ts.segment());
    ValidationReport r = Validate(*ts.segment());
    ASSERT_TRUE(r.ok()) << "class " << cls << ": " << r.ToString();
    void* all = heap->Allocate(kCapacity);
    EXPECT_NE(all, nullptr) << "class " << cls;
    heap->Free(all);
  }
}

TEST(Heap, PurgeReleasesFreePages) {
  TempSegment ts(256 << 20);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (int i = 0; i < 100000; ++i) v.push_back(heap->Allocate(512));
  for (void* p : v) std::memset(p, 1, 512);
  const uint64_t before = ts.segment()->ResidentBytes();
  for (void* p : v) heap->Free(p);
  heap->FlushThreadCache();
  PurgeResult r = Purge(*ts.segment());
  const uint64_t after = ts.segment()->ResidentBytes();
  EXPECT_GT(r.released_bytes, 40u << 20);
  EXPECT_LT(after, before - (40u << 20));
  ValidationReport vr = Validate(*ts.segment());
  EXPECT_TRUE(vr.ok()) << vr.ToString();
  // Purged memory is reusable.
  for (int i = 0; i < 100000; ++i) ASSERT_NE(heap->Allocate(512), nullptr);
}

}  // namespace
}  // namespace shmpool::shm
