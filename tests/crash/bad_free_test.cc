// Bad input through the C ABI: every kind of invalid free (outside the segment, in the
// process heap, an interior pointer, a misaligned one, inside a large run, a double free of
// a small and of a large block, a free after the arena was reset) is caught, counted in
// the stats (invalid_frees or double_frees, exactly one), reported on stderr, and leaves
// the segment valid and usable. Table-driven: one row per kind.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "shmpool/shmpool.h"

namespace shmpool::crash {
namespace {

// One arena (a segment file) with one client attached through the C ABI.
class Arena {
 public:
  Arena() : path_("/dev/shm/shmpool-badfree-" + std::to_string(getpid()) + ".seg") { Reset(); }
  ~Arena() {
    if (c_) shmpool_detach(c_);
    std::filesystem::remove(path_);
  }
  // What a client-less arena reset does to the file: a new empty segment under the same
  // name; the client attaches again.
  void Reset() {
    if (c_) shmpool_detach(c_);
    c_ = nullptr;
    std::filesystem::remove(path_);
    shm::Geometry g;
    g.capacity = 16 << 20;
    absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Create(path_, g);
    ASSERT_TRUE(seg.ok()) << seg.status();
    ASSERT_EQ(shmpool_attach_segment(path_.c_str(), &c_), 0) << shmpool_last_error();
  }
  shmpool_client* c() const { return c_; }
  shm::ArenaStats Stats() const {
    auto seg = shm::Segment::Open(path_);
    EXPECT_TRUE(seg.ok()) << seg.status();
    return seg.ok() ? shm::CollectStats(**seg) : shm::ArenaStats{};
  }
  std::string Validate() const {
    auto seg = shm::Segment::Open(path_);
    if (!seg.ok()) return std::string(seg.status().message());
    const shm::ValidationReport r = shm::Validate(**seg);
    return r.ok() ? "" : r.ToString();
  }

 private:
  std::string path_;
  shmpool_client* c_ = nullptr;
};

int on_the_stack;

struct Case {
  const char* name;
  void* (*pointer)(Arena& a);  // the pointer to free (allocating what it needs)
  uint64_t invalid, double_frees;
};

char* Malloc(Arena& a, size_t n) { return static_cast<char*>(shmpool_malloc(a.c(), n)); }

const Case kCases[] = {
    {"OutsideTheSegment", [](Arena&) -> void* { return &on_the_stack; }, 1, 0},
    {"NullIsNotAnError", [](Arena&) -> void* { return nullptr; }, 0, 0},
    {"InteriorPointer", [](Arena& a) -> void* { return Malloc(a, 64) + 16; }, 1, 0},
    {"Misaligned", [](Arena& a) -> void* { return Malloc(a, 48) + 1; }, 1, 0},
    {"InsideALargeRun", [](Arena& a) -> void* { return Malloc(a, 100000) + 8192; }, 1, 0},
    {"InTheSegmentHeader", [](Arena& a) -> void* { return shmpool_ptr_of(a.c(), 64); }, 1, 0},
    {"DoubleFreeSmall",
     [](Arena& a) -> void* {
       char* p = Malloc(a, 64);
       shmpool_free(a.c(), p);
       return p;
     },
     0, 1},
    {"DoubleFreeLarge",
     [](Arena& a) -> void* {
       char* p = Malloc(a, 100000);
       shmpool_free(a.c(), p);
       return p;
     },
     0, 1},
    {"FreeAfterArenaReset",
     [](Arena& a) -> void* {
       const shmpool_ref r = shmpool_ref_of(a.c(), Malloc(a, 64));
       a.Reset();
       return shmpool_ptr_of(a.c(), r);
     },
     1, 0},
};

class BadFree : public ::testing::TestWithParam<Case> {};

TEST_P(BadFree, IsCaughtCountedReportedAndHarmless) {
  const Case& k = GetParam();
  Arena arena;
  // Some live blocks around, so a corruption would show in Validate and in reuse.
  char* keep = Malloc(arena, 64);
  ASSERT_NE(keep, nullptr);
  void* p = k.pointer(arena);
  if (k.name != std::string("FreeAfterArenaReset")) {
    ASSERT_EQ(arena.Validate(), "");
  }
  const shm::ArenaStats before = arena.Stats();
  testing::internal::CaptureStderr();
  shmpool_free(arena.c(), p);
  const std::string report = testing::internal::GetCapturedStderr();
  const shm::ArenaStats after = arena.Stats();
  EXPECT_EQ(after.invalid_frees - before.invalid_frees, k.invalid);
  EXPECT_EQ(after.double_frees - before.double_frees, k.double_frees);
  if (k.invalid + k.double_frees > 0) {
    EXPECT_NE(report.find("refused free"), std::string::npos) << "no report: " << report;
  } else {
    EXPECT_EQ(report, "");
  }
  EXPECT_EQ(arena.Validate(), "");
  // Still usable: a block of every size can be allocated, written and freed.
  for (size_t n : {16, 64, 1000, 100000}) {
    char* q = Malloc(arena, n);
    ASSERT_NE(q, nullptr);
    std::fill(q, q + n, 0x5a);
    shmpool_free(arena.c(), q);
  }
  EXPECT_EQ(arena.Validate(), "");
}

INSTANTIATE_TEST_SUITE_P(CAbi, BadFree, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace shmpool::crash
