// Regions (region.h): O(1) bump allocation, 16-byte alignment, growth past a chunk and
// requests larger than a chunk, Destroy returning every chunk to the heap, refusal of refs
// that are not regions, and a region built in one process read and destroyed by another.
#include "shm/region.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "gtest/gtest.h"
#include "shm/page_heap.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

TEST(Region, BumpsGrowsAndFreesAtOnce) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  const uint64_t before = CommittedBytes(*ts.segment());
  absl::StatusOr<Region> r = Region::Create(*heap, 16 << 10);
  ASSERT_TRUE(r.ok()) << r.status();
  char* prev = nullptr;
  for (int i = 0; i < 1000; ++i) {
    char* p = static_cast<char*>(r->Allocate(100));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    std::memset(p, i & 0xff, 100);
    if (prev != nullptr) {
      EXPECT_NE(p, prev);
    }
    prev = p;
  }
  EXPECT_EQ(r->allocations(), 1000u);
  EXPECT_EQ(r->used(), 1000u * 112);
  EXPECT_GE(r->bytes(), r->used());
  void* huge = r->Allocate(1 << 20);  // larger than a chunk: a chunk of its own
  ASSERT_NE(huge, nullptr);
  std::memset(huge, 1, 1 << 20);
  EXPECT_GT(CommittedBytes(*ts.segment()), before);
  r->Destroy();
  heap->FlushThreadCache();
  ArenaStats s = CollectStats(*ts.segment());
  EXPECT_EQ(s.allocated, 0u);
  ValidationReport v = Validate(*ts.segment());
  EXPECT_TRUE(v.ok()) << v.ToString();
}

TEST(Region, OpenRefusesWhatIsNotARegion) {
  TempSegment ts(16 << 20);
  auto heap = *Heap::Attach(ts.segment());
  void* p = heap->Allocate(256);
  std::memset(p, 0, 256);
  EXPECT_FALSE(Region::Open(*heap, heap->RefOf(p)).ok());
  EXPECT_FALSE(Region::Open(*heap, 0).ok());
  heap->Free(p);
}

TEST(Region, HandedToAnotherProcessByRef) {
  TempSegment ts(16 << 20);
  uint64_t ref = 0;
  {
    auto heap = *Heap::Attach(ts.segment());
    Region r = *Region::Create(*heap);
    for (int i = 0; i < 100; ++i) {
      auto* v = static_cast<uint64_t*>(r.Allocate(sizeof(uint64_t) * 2));
      v[0] = static_cast<uint64_t>(i) * 7;
      v[1] = heap->RefOf(v);
    }
    ref = r.ref();
  }  // detached: the region outlives this process's attachment
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto seg = Segment::Open(ts.path());
    if (!seg.ok()) _exit(2);
    auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*seg)));
    if (!heap.ok()) _exit(3);
    absl::StatusOr<Region> r = Region::Open(**heap, ref);
    if (!r.ok() || r->allocations() != 100) _exit(4);
    // Bumps are contiguous after the header: read back what the parent wrote.
    for (uint64_t i = 0; i < 100; ++i) {
      const uint64_t at = ref + sizeof(RegionHeader) + 16 * i;
      const auto* v = static_cast<const uint64_t*>((*heap)->PtrOf(at));
      if (v[0] != i * 7 || v[1] != at) _exit(5);
    }
    r->Destroy();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(CollectStats(*ts.segment()).allocated, 0u);
}

}  // namespace
}  // namespace shmpool::shm
