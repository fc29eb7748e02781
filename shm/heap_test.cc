// Proves the Heap's contracts (heap.h) in one process: every size class and large sizes
// allocate and free; refs round-trip; invalid and double frees are refused and counted;
// exhaustion gives nullptr and everything comes back; purge releases memory; a block may
// be freed by any thread; a thread that exits, a FlushThreadCache and a Heap's destruction
// all return cached blocks (Validate then finds no cache holding any); threads beyond
// max_thread_caches still allocate and free through the uncached path; max_procs bounds
// the attached Heaps; absurd sizes fail cleanly; and a forked child cannot detach its
// parent by exiting or by destroying its copy of the parent's Heap.
#include "shm/heap.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/purge.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/fork_exits.h"
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
  alignas(16) static char outside[64];
  heap->Free(outside);  // outside the arena
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

// Threads that hold a claimed cache record of this segment now, and bytes cached in them.
uint32_t ClaimedCaches(const Segment& seg) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < seg.geometry().max_thread_caches; ++i)
    n += LoadAcquire(seg.cache_owner(i)) > kCacheFree;  // owned by a process now
  return n;
}

void ExpectValid(const Segment& seg) {
  ValidationReport r = Validate(seg);
  EXPECT_TRUE(r.ok()) << r.ToString();
}

// Blocks allocated in one thread are freed in another: they travel through the freeing
// thread's cache and the transfer ring back to the allocating side.
TEST(Heap, CrossThreadFree) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  constexpr int kRounds = 20, kBlocks = 2000;
  std::vector<void*> handoff;
  std::mutex mu;
  for (int round = 0; round < kRounds; ++round) {
    std::thread producer([&] {
      std::lock_guard<std::mutex> lock(mu);
      for (int i = 0; i < kBlocks; ++i) {
        const size_t size = 16 + (i % 64) * 16;
        auto* p = static_cast<uint32_t*>(heap->Allocate(size));
        ASSERT_NE(p, nullptr);
        p[0] = round;
        p[1] = i;
        handoff.push_back(p);
      }
    });
    producer.join();
    std::thread consumer([&] {
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 0; i < handoff.size(); ++i) {
        auto* p = static_cast<uint32_t*>(handoff[i]);
        ASSERT_EQ(p[0], static_cast<uint32_t>(round));
        ASSERT_EQ(p[1], i);
        heap->Free(p);
      }
      handoff.clear();
    });
    consumer.join();
  }
  EXPECT_EQ(ClaimedCaches(*ts.segment()), 0u);
  ExpectValid(*ts.segment());
  ArenaStats st = CollectStats(*ts.segment());
  EXPECT_EQ(st.allocated, 0u);
  EXPECT_EQ(st.cached, 0u);
  EXPECT_EQ(st.nmalloc, uint64_t{kRounds} * kBlocks);
  EXPECT_EQ(st.nfree, uint64_t{kRounds} * kBlocks);
}

// A thread with blocks in its cache exits: its cache record is released and its blocks
// are back in the slabs, before join returns.
TEST(Heap, ThreadExitReturnsItsCache) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  const Segment& seg = *ts.segment();
  std::barrier sync(2);
  std::thread worker([&] {
    std::vector<void*> v;
    for (int i = 0; i < 500; ++i) v.push_back(heap->Allocate(16 * (1 + i % 40)));
    for (size_t i = 0; i < v.size(); i += 2) heap->Free(v[i]);
    sync.arrive_and_wait();  // the main thread looks at the cache
    sync.arrive_and_wait();
    for (size_t i = 1; i < v.size(); i += 2) heap->Free(v[i]);
  });
  sync.arrive_and_wait();
  EXPECT_EQ(ClaimedCaches(seg), 1u);
  ArenaStats during = CollectStats(seg);
  EXPECT_EQ(during.thread_caches, 1u);
  EXPECT_GT(during.cached, 0u);
  EXPECT_GT(during.allocated, 0u);
  sync.arrive_and_wait();
  worker.join();
  EXPECT_EQ(ClaimedCaches(seg), 0u);
  ArenaStats after = CollectStats(seg);
  EXPECT_EQ(after.thread_caches, 0u);
  EXPECT_EQ(after.cached, 0u);
  EXPECT_EQ(after.allocated, 0u);
  ExpectValid(seg);
  // The released record is reused by the next thread, not a new one.
  std::thread([&] { heap->Free(heap->Allocate(64)); }).join();
  EXPECT_EQ(ClaimedCaches(seg), 0u);
  EXPECT_EQ(CollectStats(seg).nmalloc, 501u);
}

TEST(Heap, FlushThreadCacheEmptiesAndReleasesTheCache) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  const Segment& seg = *ts.segment();
  std::vector<void*> v;
  for (int i = 0; i < 3000; ++i) v.push_back(heap->Allocate(48));
  for (void* p : v) heap->Free(p);
  EXPECT_EQ(ClaimedCaches(seg), 1u);
  EXPECT_GT(CollectStats(seg).cached, 0u);
  heap->FlushThreadCache();
  EXPECT_EQ(ClaimedCaches(seg), 0u);
  ArenaStats st = CollectStats(seg);
  EXPECT_EQ(st.cached, 0u);
  EXPECT_EQ(st.allocated, 0u);
  ExpectValid(seg);
  // The thread goes on allocating: it claims a cache again.
  void* p = heap->Allocate(48);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ClaimedCaches(seg), 1u);
  heap->Free(p);
  heap->FlushThreadCache();
  heap->FlushThreadCache();  // twice is harmless
  ExpectValid(seg);
}

// The cache record this process holds (one thread has allocated).
ThreadCache& OnlyCacheOf(const Segment& seg, const Heap& heap) {
  for (uint32_t i = 0; i < seg.geometry().max_thread_caches; ++i)
    if (LoadAcquire(seg.cache_owner(i)) == CacheOwnerOf(heap.proc_index())) return seg.cache(i);
  ADD_FAILURE() << "no cache record held";
  return seg.cache(0);
}

// Malloc's fast path sends a large size (class 0) to the slow path through bins[0]'s list,
// which stays empty (layout.h); Validate reports a cache whose bins[0] holds one.
TEST(Heap, ClassZeroBinStaysEmptyAndValidateChecksIt) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  const Segment& seg = *ts.segment();
  void* small = heap->Allocate(64);
  void* large = heap->Allocate(kMaxSmallSize + 1);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(heap->UsableSize(large), kMaxSmallSize + kPageSize) << "a large block, whole pages";
  ThreadCache& cache = OnlyCacheOf(seg, *heap);
  EXPECT_EQ(LoadRelaxed(cache.bins[0].xlist), 0u);
  EXPECT_EQ(LoadRelaxed(cache.bins[0].xops), 0u);
  ExpectValid(seg);
  StoreRelaxed(cache.bins[0].xlist, heap->RefOf(small));
  ValidationReport r = Validate(seg);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.ToString().find("the bin of class 0 holds a list"), std::string::npos)
      << r.ToString();
  StoreRelaxed(cache.bins[0].xlist, uint64_t{0});
  heap->Free(small);
  heap->Free(large);
  ExpectValid(seg);
}

// A bin's count and nmalloc share one word (layout.h): malloc's one add takes count down
// through 0 (its borrow carried into nmalloc) and free's one add takes it up, and both
// figures stay exact across refills and overflows.
TEST(Heap, BinCountAndNmallocShareOneWordExactly) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  const Segment& seg = *ts.segment();
  const uint32_t cls = ClassOf(64);
  const uint32_t batch = Class(cls).batch;
  std::vector<void*> v;
  for (uint32_t i = 0; i < 3 * batch + 5; ++i) v.push_back(heap->Allocate(64));
  const Bin& bin = OnlyCacheOf(seg, *heap).bins[cls];
  EXPECT_EQ(bin.nmalloc(), 3 * batch + 5);
  EXPECT_EQ(bin.count(), batch - 5) << "the list of the fourth refill, 5 blocks taken";
  for (void* p : v) heap->Free(p);
  EXPECT_EQ(bin.nmalloc(), 3 * batch + 5);
  EXPECT_LE(bin.count(), batch);
  ArenaStats st = CollectStats(seg);
  EXPECT_EQ(st.nmalloc, 3 * batch + 5);
  EXPECT_EQ(st.nfree, 3 * batch + 5);
  EXPECT_EQ(st.allocated, 0u);
  EXPECT_EQ(st.requested, uint64_t{64} * (3 * batch + 5));
  ExpectValid(seg);
}

// Validate counts the blocks a live cache holds, while the cache holds them.
TEST(Heap, ValidateWhileThisThreadCachesBlocks) {
  TempSegment ts(64 << 20);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(heap->Allocate(16 + i % 200));
  for (size_t i = 0; i < v.size(); i += 3) heap->Free(v[i]);
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
  EXPECT_GT(r.free_blocks, 0u);
  for (size_t i = 0; i < v.size(); ++i)
    if (i % 3) heap->Free(v[i]);
  ExpectValid(*ts.segment());
}

// Destroying the Heap (detach) returns the caches of every thread of the process, even of
// threads that are still alive (but no longer use it); they exit later without harm.
TEST(Heap, DestructionReturnsEveryCacheOfTheProcess) {
  TempSegment ts(64 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  constexpr int kThreads = 4;
  std::barrier sync(kThreads + 1);
  std::vector<std::thread> threads;
  std::vector<std::vector<void*>> kept(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<void*> v;
      for (int i = 0; i < 300; ++i) v.push_back(heap->Allocate(32 + 16 * (i % 30)));
      for (size_t i = 0; i < v.size(); ++i) {
        if (i % 4)
          heap->Free(v[i]);
        else
          kept[t].push_back(v[i]);
      }
      sync.arrive_and_wait();  // caches hold blocks
      sync.arrive_and_wait();  // the Heap is gone: exit without touching it
    });
  }
  sync.arrive_and_wait();
  EXPECT_EQ(ClaimedCaches(seg), uint32_t{kThreads});
  EXPECT_EQ(CollectStats(seg).attached_procs, 1u);
  // Free the kept blocks here (main thread: one more cache), then detach.
  for (auto& k : kept)
    for (void* p : k) heap->Free(p);
  EXPECT_EQ(ClaimedCaches(seg), uint32_t{kThreads + 1});
  heap.reset();
  EXPECT_EQ(ClaimedCaches(seg), 0u);
  sync.arrive_and_wait();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ClaimedCaches(seg), 0u);
  ArenaStats st = CollectStats(seg);
  EXPECT_EQ(st.attached_procs, 0u);
  EXPECT_EQ(st.cached, 0u);
  EXPECT_EQ(st.allocated, 0u);
  ExpectValid(seg);
}

// With room for two thread caches, six threads allocate and free at once (and free each
// other's blocks): the four without a cache go through the slabs one block at a time.
TEST(Heap, MoreThreadsThanThreadCaches) {
  Geometry g;
  g.max_thread_caches = 2;
  TempSegment ts(64 << 20, g);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  constexpr int kThreads = 6, kBlocks = 3000;
  std::barrier sync(kThreads);
  std::vector<std::vector<void*>> out(kThreads);
  std::atomic<uint32_t> max_claimed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      sync.arrive_and_wait();
      for (int i = 0; i < kBlocks; ++i) {
        const size_t size = 16 + rng() % 2048;
        auto* p = static_cast<unsigned char*>(heap->Allocate(size));
        ASSERT_NE(p, nullptr);
        std::memset(p, t, size);
        out[t].push_back(p);
        if (i % 3 == 0) {
          heap->Free(out[t].back());
          out[t].pop_back();
        }
      }
      uint32_t c = ClaimedCaches(seg), m = max_claimed.load();
      while (c > m && !max_claimed.compare_exchange_weak(m, c)) {
      }
      sync.arrive_and_wait();  // everybody has allocated: free a neighbour's blocks
      for (void* p : out[(t + 1) % kThreads]) heap->Free(p);
      sync.arrive_and_wait();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(max_claimed.load(), 2u);
  ArenaStats st = CollectStats(seg);
  EXPECT_EQ(st.allocated, 0u);
  EXPECT_EQ(st.nmalloc, uint64_t{kThreads} * kBlocks);
  uint64_t central_nmalloc = 0;
  for (uint32_t c = 1; c < kNumClasses; ++c)
    central_nmalloc += LoadRelaxed(seg.central(c).xnmalloc);
  EXPECT_GT(central_nmalloc, uint64_t{kBlocks}) << "the uncached path was not used";
  EXPECT_EQ(ClaimedCaches(seg), 0u);
  ExpectValid(seg);
}

// No thread caches at all: everything goes through the slabs and still balances.
TEST(Heap, ZeroThreadCaches) {
  Geometry g;
  g.max_thread_caches = 0;
  TempSegment ts(16 << 20, g);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (int i = 0; i < 2000; ++i) v.push_back(heap->Allocate(16 + i % 5000));
  for (void* p : v) ASSERT_NE(p, nullptr);
  for (void* p : v) heap->Free(p);
  heap->Free(v[0]);  // double free, uncached
  ArenaStats st = CollectStats(*ts.segment());
  EXPECT_EQ(st.allocated, 0u);
  EXPECT_EQ(st.double_frees, 1u);
  ExpectValid(*ts.segment());
}

TEST(Heap, MaxProcsExhaustion) {
  Geometry g;
  g.max_procs = 2;
  TempSegment ts(16 << 20, g);
  auto a = Heap::Attach(ts.segment(), {.name = "a"});
  auto b = Heap::Attach(ts.segment(), {.name = "b"});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE((*a)->proc_index(), (*b)->proc_index());
  EXPECT_STREQ(ts.segment()->proc((*a)->proc_index()).name, "a");
  auto c = Heap::Attach(ts.segment());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();
  EXPECT_NE(std::string(c.status().message()).find("max_procs"), std::string::npos) << c.status();
  EXPECT_EQ(CollectStats(*ts.segment()).attached_procs, 2u);
  const uint32_t freed = (*a)->proc_index();
  a->reset();
  EXPECT_EQ(CollectStats(*ts.segment()).attached_procs, 1u);
  auto d = Heap::Attach(ts.segment());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->proc_index(), freed);
}

TEST(Heap, AbsurdSizesFailCleanly) {
  constexpr uint64_t kCapacity = 16 << 20;
  TempSegment ts(kCapacity);
  auto heap = *Heap::Attach(ts.segment());
  const size_t kMax = std::numeric_limits<size_t>::max();
  for (size_t size : {kMax, kMax - 1, kMax - kPageSize + 2, kMax - kPageSize + 1, kMax - kPageSize,
                      kMax / 2, size_t{1} << 44, size_t{kCapacity} + 1}) {
    EXPECT_EQ(heap->Allocate(size), nullptr) << size;
  }
  EXPECT_EQ(CollectStats(*ts.segment()).failed_allocs, 8u);
  void* all = heap->Allocate(kCapacity);
  EXPECT_NE(all, nullptr);
  heap->Free(all);
  ExpectValid(*ts.segment());
}

// A forked child inherits the parent's Heap object and thread-local state, but the
// attachment is the parent's: the child ending (exit() runs thread-local destructors) or
// destroying its copy of the Heap must not release the parent's caches or its record.
class HeapForkTest : public ::testing::TestWithParam<bool> {};

TEST_P(HeapForkTest, ChildCannotDetachTheParent) {
  const bool destroy_in_child = GetParam();
  TempSegment ts(16 << 20);
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (int i = 0; i < 100; ++i) v.push_back(heap->Allocate(64));
  for (int i = 0; i < 50; ++i) heap->Free(v[i]);  // the parent's cache holds blocks
  ASSERT_EQ(ClaimedCaches(seg), 1u);
  const ArenaStats before = CollectStats(seg);
  ASSERT_GT(before.cached, 0u);
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (destroy_in_child) heap.reset();
    std::exit(0);  // runs thread-local and static destructors in the child
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ClaimedCaches(seg), 1u) << "the child released the parent's cache";
  const ArenaStats after = CollectStats(seg);
  EXPECT_EQ(after.cached, before.cached);
  EXPECT_EQ(after.attached_procs, 1u) << "the child detached the parent";
  ExpectValid(seg);
  for (int i = 50; i < 100; ++i) heap->Free(v[i]);
  heap->FlushThreadCache();
  EXPECT_EQ(CollectStats(seg).allocated, 0u);
  ExpectValid(seg);
}

// A child forked while another thread attaches and detaches (the registry's mutex held
// on and off) exits normally: its exit hook forgot the parent's caches at the fork, so it
// does not wait for a mutex that no thread of the child will release.
TEST(HeapFork, ChildrenExitWhileHeapsComeAndGo) {
  TempSegment ts(16 << 20, Geometry{.max_procs = 8, .max_thread_caches = 16, .ring_slots = 8});
  auto heap = *Heap::Attach(ts.segment());
  heap->Free(heap->Allocate(64));  // this thread holds a cache: its exit hook names it
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop) *Heap::Attach(ts.segment());  // attaches and detaches
  });
  const int hung = testing::ChildrenHungAtExit();
  stop = true;
  churn.join();
  EXPECT_EQ(hung, 0);
  ExpectValid(*ts.segment());
}

// A program's exit handlers run after the thread-local destructors of the thread that
// calls exit(), the Heap's exit hook among them. A handler registered before the attach
// (as every C++ program's static objects are) still frees, allocates and detaches: those
// go through the central lists, as for a thread without a cache.
std::unique_ptr<Heap> exiting_heap;
std::vector<void*> exiting_blocks;
void FreeEverythingAtExit() {
  for (void* p : exiting_blocks) exiting_heap->Free(p);
  for (size_t size : {64, 1000, 100000}) exiting_heap->Free(exiting_heap->Allocate(size));
  exiting_heap.reset();
}

TEST(HeapExit, ExitHandlersFreeAllocateAndDetachAfterTheExitHook) {
  TempSegment ts(16 << 20, Geometry{.max_procs = 8, .max_thread_caches = 16, .ring_slots = 8});
  const Segment& seg = *ts.segment();
  const pid_t pid = fork();
  if (pid == 0) {
    testing::in_forked_child = true;
    std::atexit(FreeEverythingAtExit);
    exiting_heap = *Heap::Attach(ts.segment());
    for (int i = 0; i < 200; ++i) exiting_blocks.push_back(exiting_heap->Allocate(16 + i * 8));
    std::exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  const ArenaStats after = CollectStats(seg);
  EXPECT_EQ(after.allocated, 0u);
  EXPECT_EQ(after.cached, 0u);
  EXPECT_EQ(after.attached_procs, 0u);
  ExpectValid(seg);
}

INSTANTIATE_TEST_SUITE_P(ExitOrDestroy, HeapForkTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "DestroyHeap" : "Exit";
                         });

// Reading the statistics or validating must not back thread-cache records that were never
// used: on tmpfs, reading a hole through a shared mapping allocates a page (and raises
// SIGBUS when the file system is full).
TEST(Heap, StatsAndValidateDoNotBackUnusedCacheRecords) {
  TempSegment ts(uint64_t{1} << 30);  // default geometry: 4096 cache records
  const Segment& seg = *ts.segment();
  auto heap = *Heap::Attach(ts.segment());
  heap->Free(heap->Allocate(100));
  const uint64_t before = seg.ResidentBytes();
  CollectStats(seg);
  ExpectValid(seg);
  EXPECT_LT(seg.ResidentBytes(), before + (64 << 10)) << "before " << before;
}

// ThreadSanitizer confines an application's mappings to the ranges it shadows, where a
// sparse mapping of many TiB may find no room: there a refused mmap is the tool's limit,
// not the allocator's, and the test is skipped. Everywhere else it must map.
#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#define SHMPOOL_MAP_OR_SKIP_UNDER_TSAN(ts)                                                \
  do {                                                                                    \
    if (kThreadSanitizer && (ts).status().code() == absl::StatusCode::kResourceExhausted) \
      GTEST_SKIP() << "ThreadSanitizer cannot map it: " << (ts).status();                 \
    ASSERT_TRUE((ts).status().ok()) << (ts).status();                                     \
  } while (0)

// Peak resident memory of this process so far, in bytes.
uint64_t PeakRss() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

// The walker's memory follows what the segment uses, not its (sparse) capacity: the daemon
// validates big arenas that are mostly empty.
TEST(Heap, ValidateMemoryDoesNotGrowWithCapacity) {
  TempSegment ts(uint64_t{64} << 30, {}, !kThreadSanitizer);  // 64 GiB, sparse
  SHMPOOL_MAP_OR_SKIP_UNDER_TSAN(ts);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(heap->Allocate(16 + i * 40));
  for (size_t i = 0; i < v.size(); i += 2) heap->Free(v[i]);
  const uint64_t before = PeakRss();
  ExpectValid(*ts.segment());
  EXPECT_LT(PeakRss(), before + (64 << 20)) << "Validate grew the peak RSS from " << before;
  for (size_t i = 1; i < v.size(); i += 2) heap->Free(v[i]);
}

// The design's largest arena (1 TiB, sparse) works like a small one.
TEST(Heap, TerabyteSegment) {
  TempSegment ts(uint64_t{1} << 40, {}, !kThreadSanitizer);
  SHMPOOL_MAP_OR_SKIP_UNDER_TSAN(ts);
  const Segment& seg = *ts.segment();
  EXPECT_LT(seg.ResidentBytes(), 1u << 20);
  auto heap = *Heap::Attach(ts.segment());
  std::vector<void*> v;
  for (size_t size : {16, 1000, 32768, 32769, 1 << 20, 64 << 20}) {
    void* p = heap->Allocate(size);
    ASSERT_NE(p, nullptr) << size;
    std::memset(p, 1, size);
    v.push_back(p);
  }
  ExpectValid(seg);
  EXPECT_LT(seg.ResidentBytes(), 100u << 20);
  for (void* p : v) heap->Free(p);
  heap->FlushThreadCache();
  EXPECT_EQ(CollectStats(seg).allocated, 0u);
  ExpectValid(seg);
}

// The largest capacity a geometry accepts (2^32 - 1 pages) works at its top: a request for
// every page fails cleanly (no file system backs 16 TiB) or succeeds, never wraps.
TEST(Heap, LargestAcceptedCapacity) {
  const uint64_t capacity = (uint64_t{1} << 44) - kPageSize;
  TempSegment ts(capacity, {}, !kThreadSanitizer);
  SHMPOOL_MAP_OR_SKIP_UNDER_TSAN(ts);
  const Segment& seg = *ts.segment();
  EXPECT_EQ(seg.data_pages(), uint64_t{~uint32_t{0}});
  auto heap = *Heap::Attach(ts.segment());
  void* small = heap->Allocate(100);
  void* large = heap->Allocate(64 << 20);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  if (void* all = heap->Allocate(capacity)) heap->Free(all);
  EXPECT_EQ(heap->Allocate(capacity + 1), nullptr);
  heap->Free(small);
  heap->Free(large);
  heap->FlushThreadCache();
  ExpectValid(seg);
  EXPECT_EQ(CollectStats(seg).allocated, 0u);
}

// A thread has one thread-local slot for all Heaps; a thread that alternates between two
// Heaps (two arenas) must find its cache in each again, not claim a fresh record at every
// switch (the table would fill up and push the thread onto the uncached path).
TEST(Heap, AlternatingHeapsInOneThreadKeepOneCacheEach) {
  Geometry g;
  g.max_thread_caches = 8;
  TempSegment a(16 << 20, g), b(16 << 20, g);
  auto ha = *Heap::Attach(a.segment());
  auto hb = *Heap::Attach(b.segment());
  for (int i = 0; i < 100; ++i) {
    ha->Free(ha->Allocate(64));
    hb->Free(hb->Allocate(64));
  }
  EXPECT_EQ(ClaimedCaches(*a.segment()), 1u);
  EXPECT_EQ(ClaimedCaches(*b.segment()), 1u);
}

// A switch back to a Heap whose cache still lists blocks allocates one of them: the blocks
// the cache held are neither lost nor counted as allocated. A FlushThreadCache returns this
// Heap's cache while the thread's slot names the other Heap.
TEST(Heap, AlternatingHeapsInOneThreadLoseNoCachedBlock) {
  TempSegment a(16 << 20), b(16 << 20);
  auto ha = *Heap::Attach(a.segment());
  auto hb = *Heap::Attach(b.segment());
  std::vector<void*> pa, pb;
  for (int i = 0; i < 10; ++i) {
    pa.push_back(ha->Allocate(64));
    pb.push_back(hb->Allocate(64));
  }
  EXPECT_EQ(CollectStats(*a.segment()).allocated, 10 * 64u);
  EXPECT_EQ(CollectStats(*b.segment()).allocated, 10 * 64u);
  for (void* p : pa) ha->Free(p);
  for (void* p : pb) hb->Free(p);
  ha->FlushThreadCache();
  const ArenaStats s = CollectStats(*a.segment());
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(s.cached, 0u);
  EXPECT_EQ(s.nfree, s.nmalloc);
  ExpectValid(*a.segment());
}

}  // namespace
}  // namespace shmpool::shm
