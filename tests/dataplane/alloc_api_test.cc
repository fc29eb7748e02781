// The C ABI's malloc family beyond malloc and free, on a segment without a daemon:
// shmpool_realloc (in place within a class or a run, moves across classes with the
// contents, NULL and 0, failure leaves the block, invalid pointers refused like free's),
// shmpool_aligned_alloc and shmpool_posix_memalign (every power of two up to
// SHMPOOL_MAX_ALIGNMENT with many sizes: aligned, freeable, usable_size and refs right,
// Validate clean; bad alignments refused; double and invalid frees of aligned blocks
// caught), and all of them from several threads handing blocks to each other (TSan).
#include <errno.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/alloc_policy.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "shmpool/shmpool.h"
#include "tests/support/temp_segment.h"

namespace shmpool {
namespace {

constexpr uint64_t kCapacity = 32 << 20;

class AllocApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(seg_.segment(), nullptr);
    ASSERT_EQ(shmpool_attach_segment(seg_.path().c_str(), &c_), 0) << shmpool_last_error();
  }
  void TearDown() override { shmpool_detach(c_); }
  shm::ArenaStats Stats() const { return shm::CollectStats(*seg_.segment()); }
  std::string Validate() const {
    const shm::ValidationReport r = shm::Validate(*seg_.segment());
    return r.ok() ? "" : r.ToString();
  }
  // What a test leaves behind: nothing allocated, no bad free, a valid segment.
  void ExpectClean() const {
    const shm::ArenaStats s = Stats();
    EXPECT_EQ(s.allocated, 0u);
    EXPECT_EQ(s.invalid_frees + s.double_frees, 0u);
    EXPECT_EQ(Validate(), "");
  }
  char* Malloc(size_t n) { return static_cast<char*>(shmpool_malloc(c_, n)); }
  char* Realloc(void* p, size_t n) { return static_cast<char*>(shmpool_realloc(c_, p, n)); }

  testing::TempSegment seg_{kCapacity};
  shmpool_client* c_ = nullptr;
};

// Byte i of a block filled by Fill(p, n, seed).
char Pattern(size_t i, unsigned seed) { return static_cast<char>(i * 131 + seed); }
void Fill(char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = Pattern(i, seed);
}
// The first byte that is not the pattern, or n.
size_t FirstMismatch(const char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != Pattern(i, seed)) return i;
  return n;
}

TEST_F(AllocApi, ReallocOfNullIsMalloc) {
  char* p = Realloc(nullptr, 100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(shmpool_usable_size(c_, p), 112u);
  shmpool_free(c_, p);
  ExpectClean();
}

TEST_F(AllocApi, ReallocStaysInPlaceWithinTheClass) {
  char* p = Malloc(100);  // class 112
  ASSERT_NE(p, nullptr);
  Fill(p, 100, 1);
  EXPECT_EQ(Realloc(p, 112), p);  // grows within the class
  EXPECT_EQ(Realloc(p, 97), p);   // shrinks within the class
  EXPECT_EQ(FirstMismatch(p, 97, 1), 97u);
  char* large = Malloc(100000);  // 25 pages
  ASSERT_NE(large, nullptr);
  Fill(large, 100000, 2);
  EXPECT_EQ(Realloc(large, 25 * 4096), large);  // grows within the run
  EXPECT_EQ(Realloc(large, 60000), large);      // shrinks within it, using more than half
  EXPECT_EQ(FirstMismatch(large, 60000, 2), 60000u);
  EXPECT_EQ(shmpool_usable_size(c_, large), 25u * 4096);
  shmpool_free(c_, p);
  shmpool_free(c_, large);
  ExpectClean();
}

// Grows a block through every kind of size, then shrinks it back, checking the contents
// (the bytes both sizes hold) and that a move frees the old block.
TEST_F(AllocApi, ReallocMovesAcrossClassesAndRunsWithTheContents) {
  const std::vector<size_t> sizes = {1,     16,    17,     100,   1000,   1025,    5000,
                                     32768, 32769, 100000, 60000, 200000, 1 << 20, 40000,
                                     32768, 5000,  1000,   17,    1};
  char* p = Malloc(sizes[0]);
  ASSERT_NE(p, nullptr);
  Fill(p, sizes[0], 3);
  size_t have = sizes[0];
  for (size_t i = 1; i < sizes.size(); ++i) {
    const size_t n = sizes[i];
    const size_t usable = shmpool_usable_size(c_, p);
    char* q = Realloc(p, n);
    ASSERT_NE(q, nullptr) << n;
    EXPECT_EQ(q == p, shm::FitsInPlace(usable, n)) << usable << " -> " << n;
    EXPECT_GE(shmpool_usable_size(c_, q), n);
    const size_t kept = std::min(have, n);
    EXPECT_EQ(FirstMismatch(q, kept, 3), kept) << usable << " -> " << n;
    if (q != p) {  // the old block was freed: freeing it again is a double free
      const uint64_t before = Stats().double_frees;
      ::testing::internal::CaptureStderr();
      shmpool_free(c_, p);
      ::testing::internal::GetCapturedStderr();
      EXPECT_EQ(Stats().double_frees, before + 1) << usable << " -> " << n;
    }
    Fill(q, n, 3);
    p = q;
    have = n;
  }
  shmpool_free(c_, p);
  EXPECT_EQ(Stats().allocated, 0u);
  EXPECT_EQ(Validate(), "");
}

// realloc(p, 0) gives a minimum-size block (freeing p if it moves): never NULL on success,
// so NULL always means failure.
TEST_F(AllocApi, ReallocToZeroGivesAMinimumBlock) {
  char* p = Malloc(1000);
  ASSERT_NE(p, nullptr);
  char* q = Realloc(p, 0);
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);
  EXPECT_EQ(shmpool_usable_size(c_, q), 16u);
  EXPECT_EQ(Realloc(q, 0), q);  // already the smallest class: in place
  char* large = Malloc(100000);
  ASSERT_NE(large, nullptr);
  char* r = Realloc(large, 0);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(shmpool_usable_size(c_, r), 16u);
  shmpool_free(c_, q);
  shmpool_free(c_, r);
  ExpectClean();
}

TEST_F(AllocApi, FailedReallocLeavesTheBlockLive) {
  char* small = Malloc(1000);
  char* large = Malloc(100000);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  Fill(small, 1000, 4);
  Fill(large, 100000, 5);
  EXPECT_EQ(Realloc(small, 2 * kCapacity), nullptr);  // more than the arena holds
  EXPECT_EQ(Realloc(large, 2 * kCapacity), nullptr);
  // The arena full of 1 MiB blocks: no room to move to.
  std::vector<void*> filler;
  while (void* f = Malloc(1 << 20)) filler.push_back(f);
  EXPECT_EQ(Realloc(small, 1 << 20), nullptr);
  EXPECT_EQ(Realloc(large, 1 << 20), nullptr);
  EXPECT_EQ(shmpool_usable_size(c_, small), 1024u);
  EXPECT_EQ(shmpool_usable_size(c_, large), 25u * 4096);
  EXPECT_EQ(FirstMismatch(small, 1000, 4), 1000u);
  EXPECT_EQ(FirstMismatch(large, 100000, 5), 100000u);
  for (void* f : filler) shmpool_free(c_, f);
  shmpool_free(c_, small);
  shmpool_free(c_, large);
  EXPECT_GE(Stats().failed_allocs, 4u);
  ExpectClean();
}

// A pointer free() refuses is refused by realloc the same way: NULL, counted once as
// invalid or double, reported, nothing changed.
TEST_F(AllocApi, ReallocRefusesWhatFreeRefuses) {
  int on_the_stack = 0;
  char* keep = Malloc(64);
  char* freed = Malloc(64);
  char* freed_large = Malloc(100000);
  char* interior = Malloc(64);
  char* large = Malloc(100000);
  ASSERT_TRUE(keep && freed && freed_large && interior && large);
  shmpool_free(c_, freed);
  shmpool_free(c_, freed_large);
  struct Case {
    void* p;
    uint64_t invalid, double_frees;
  };
  const Case cases[] = {{&on_the_stack, 1, 0},         {interior + 16, 1, 0}, {interior + 1, 1, 0},
                        {large + 8192, 1, 0},          {freed, 0, 1},         {freed_large, 0, 1},
                        {shmpool_ptr_of(c_, 64), 1, 0}};
  for (const Case& k : cases) {
    const shm::ArenaStats before = Stats();
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(Realloc(k.p, 200), nullptr) << k.p;
    const std::string report = ::testing::internal::GetCapturedStderr();
    const shm::ArenaStats after = Stats();
    EXPECT_EQ(after.invalid_frees - before.invalid_frees, k.invalid) << k.p;
    EXPECT_EQ(after.double_frees - before.double_frees, k.double_frees) << k.p;
    EXPECT_NE(report.find("refused free"), std::string::npos) << report;
    EXPECT_EQ(after.allocated, before.allocated) << k.p;
    EXPECT_EQ(Validate(), "");
  }
  for (char* p : {keep, interior, large}) shmpool_free(c_, p);
  EXPECT_EQ(Stats().allocated, 0u);
  EXPECT_EQ(Validate(), "");
}

const size_t kSizes[] = {0,    1,    7,    8,    15,   16,    17,    31,    33,    63,    64,
                         65,   100,  127,  255,  256,  500,   1000,  1023,  2047,  3000,  4095,
                         4096, 4097, 5000, 8191, 9000, 10000, 20000, 32767, 32768, 32769, 70000};

TEST_F(AllocApi, AlignedAllocServesEveryPowerOfTwoUpToThePage) {
  const char* base = static_cast<const char*>(shmpool_ptr_of(c_, 64)) - 64;
  for (size_t align = 1; align <= SHMPOOL_MAX_ALIGNMENT; align *= 2) {
    std::vector<char*> blocks;
    for (int round = 0; round < 3; ++round) {
      for (size_t n : kSizes) {
        char* p = static_cast<char*>(shmpool_aligned_alloc(c_, align, n));
        ASSERT_NE(p, nullptr) << align << " " << n;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align << " " << n;
        const shmpool_ref ref = shmpool_ref_of(c_, p);
        EXPECT_EQ(ref % align, 0u) << "aligned in every mapping: " << align << " " << n;
        EXPECT_EQ(shmpool_ptr_of(c_, ref), p);
        EXPECT_EQ(p - base, static_cast<ptrdiff_t>(ref));
        EXPECT_GE(shmpool_usable_size(c_, p), n) << align << " " << n;
        std::memset(p, 0x5a, n);
        blocks.push_back(p);
        void* q = nullptr;
        if (align >= sizeof(void*)) {
          ASSERT_EQ(shmpool_posix_memalign(c_, &q, align, n), 0) << align << " " << n;
          EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % align, 0u) << align << " " << n;
          EXPECT_GE(shmpool_usable_size(c_, q), n);
          std::memset(q, 0xa5, n);
          blocks.push_back(static_cast<char*>(q));
        }
      }
    }
    // Freed in another order than allocated.
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(static_cast<unsigned>(align)));
    for (char* p : blocks) shmpool_free(c_, p);
    const shm::ArenaStats s = Stats();
    ASSERT_EQ(s.invalid_frees + s.double_frees, 0u) << align;
    ASSERT_EQ(s.allocated, 0u) << align;
    ASSERT_EQ(Validate(), "") << align;
  }
}

TEST_F(AllocApi, AlignmentsOutOfRangeAreRefused) {
  for (size_t align : {size_t{0}, size_t{3}, size_t{24}, size_t{4095}, size_t{8192}}) {
    errno = 0;
    EXPECT_EQ(shmpool_aligned_alloc(c_, align, 64), nullptr) << align;
    EXPECT_EQ(errno, EINVAL) << align;
  }
  void* untouched = &untouched;
  for (size_t align : {size_t{0}, size_t{1}, size_t{4}, size_t{24}, size_t{8192}}) {
    EXPECT_EQ(shmpool_posix_memalign(c_, &untouched, align, 64), EINVAL) << align;
    EXPECT_EQ(untouched, &untouched);
  }
  EXPECT_EQ(shmpool_posix_memalign(c_, nullptr, 64, 64), EINVAL);
  EXPECT_EQ(shmpool_posix_memalign(c_, &untouched, 64, 2 * kCapacity), ENOMEM);
  EXPECT_EQ(untouched, &untouched);
  errno = 0;
  EXPECT_EQ(shmpool_aligned_alloc(c_, 4096, 2 * kCapacity), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(Stats().allocated, 0u);
}

TEST_F(AllocApi, BadFreesOfAlignedBlocksAreCaught) {
  char* small = static_cast<char*>(shmpool_aligned_alloc(c_, 256, 100));
  char* page = static_cast<char*>(shmpool_aligned_alloc(c_, 4096, 10));
  char* large = static_cast<char*>(shmpool_aligned_alloc(c_, 4096, 100000));
  ASSERT_TRUE(small && page && large);
  ::testing::internal::CaptureStderr();
  shmpool_free(c_, small);
  shmpool_free(c_, small);         // double
  shmpool_free(c_, page + 64);     // interior
  shmpool_free(c_, large + 4096);  // inside the run
  shmpool_free(c_, page);
  shmpool_free(c_, large);
  shmpool_free(c_, large);                 // double
  EXPECT_EQ(Realloc(page, 100), nullptr);  // freed
  ::testing::internal::GetCapturedStderr();
  const shm::ArenaStats s = Stats();
  EXPECT_EQ(s.double_frees, 3u);
  EXPECT_EQ(s.invalid_frees, 2u);
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(Validate(), "");
}

// Threads allocate (aligned or not), grow and shrink blocks and hand them to each other
// to be resized and freed there: blocks stay intact, and the segment valid.
TEST_F(AllocApi, ThreadsResizeAndFreeEachOthersBlocks) {
  constexpr int kThreads = 4;
  constexpr int kOps = 3000;
  struct Handoff {
    std::mutex mu;
    std::vector<std::pair<char*, size_t>> blocks;  // block, bytes filled with its pattern
  };
  Handoff handoff[kThreads];
  std::atomic<int> bad{0};
  auto worker = [&](int me) {
    std::mt19937 rng(static_cast<unsigned>(me));
    for (int i = 0; i < kOps; ++i) {
      size_t n = kSizes[rng() % std::size(kSizes)];
      char* p = (rng() & 1)
                    ? static_cast<char*>(shmpool_aligned_alloc(c_, size_t{1} << (rng() % 13), n))
                    : Malloc(n);
      if (p == nullptr) continue;
      Fill(p, n, 7);
      {
        std::lock_guard<std::mutex> lock(handoff[(me + 1) % kThreads].mu);
        handoff[(me + 1) % kThreads].blocks.push_back({p, n});
      }
      std::pair<char*, size_t> b{nullptr, 0};
      {
        std::lock_guard<std::mutex> lock(handoff[me].mu);
        if (!handoff[me].blocks.empty()) {
          b = handoff[me].blocks.back();
          handoff[me].blocks.pop_back();
        }
      }
      if (b.first == nullptr) continue;
      const size_t to = kSizes[rng() % std::size(kSizes)];
      char* q = Realloc(b.first, to);
      if (q == nullptr) {
        shmpool_free(c_, b.first);
        continue;
      }
      const size_t kept = std::min(b.second, to);
      if (FirstMismatch(q, kept, 7) != kept) bad.fetch_add(1);
      shmpool_free(c_, q);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (std::thread& t : threads) t.join();
  for (Handoff& h : handoff)
    for (auto [p, n] : h.blocks) {
      if (FirstMismatch(p, n, 7) != n) bad.fetch_add(1);
      shmpool_free(c_, p);
    }
  EXPECT_EQ(bad.load(), 0);
  ExpectClean();
}

}  // namespace
}  // namespace shmpool
