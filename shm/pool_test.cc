// Object pools (pool.h): every object handed out once, alignment, headroom and cache-line
// padding; exhaustion gives nullptr; invalid and double puts refused and counted; the
// heap's free() refuses a pool object; stats (in use, lowest free, hit rate, per process);
// delete refused while open or in use; many threads with cross-thread puts; a producer
// process and a consumer process; a killed process's caches reclaimed by recovery.
#include "shm/pool.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/recovery.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/fork_exits.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

PoolStats StatsOf(const Segment& seg, const std::string& name) {
  for (PoolStats& s : ListPools(seg))
    if (s.name == name) return s;
  ADD_FAILURE() << "no pool " << name;
  return {};
}

TEST(Pool, EveryObjectOnceThenEmpty) {
  TempSegment ts(16 << 20);
  PoolSpec spec{.name = "pkt", .object_size = 1500, .count = 1000, .align = 64, .headroom = 128};
  ASSERT_TRUE(CreatePool(*ts.segment(), spec).ok());
  EXPECT_EQ(CreatePool(*ts.segment(), spec).status().code(), absl::StatusCode::kAlreadyExists);
  auto pool = *Pool::Open(ts.segment(), 0, "pkt");
  EXPECT_EQ(pool->stride(), 1664u);  // 1500 + 128 rounded up to 64
  std::set<void*> got;
  for (int i = 0; i < 1000; ++i) {
    void* p = pool->Get();
    ASSERT_NE(p, nullptr) << i;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    std::memset(p, 0xcd, 1628);
    EXPECT_TRUE(got.insert(p).second);
  }
  EXPECT_EQ(pool->Get(), nullptr);
  PoolStats s = StatsOf(*ts.segment(), "pkt");
  EXPECT_EQ(s.in_use, 1000u);
  EXPECT_EQ(s.low_free, 0u);
  EXPECT_GE(s.bytes, 1000u * 1664);
  EXPECT_EQ(CollectStats(*ts.segment()).pool_bytes, s.bytes) << "the arena's stats count it";
  for (void* p : got) EXPECT_TRUE(pool->Put(p));
  s = StatsOf(*ts.segment(), "pkt");
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.gets, 1000u);
  EXPECT_EQ(s.puts, 1000u);
  // Now the cache serves: a get/put loop hits.
  for (int i = 0; i < 100; ++i) pool->Put(pool->Get());
  s = StatsOf(*ts.segment(), "pkt");
  EXPECT_GE(s.hits, 100u);
  ASSERT_EQ(s.procs.size(), 1u);
  EXPECT_EQ(s.procs[0].proc, 0u);
  EXPECT_EQ(s.procs[0].held, 0);
}

TEST(Pool, BadPutsAndHeapFreeAreRefused) {
  TempSegment ts(16 << 20);
  ASSERT_TRUE(CreatePool(*ts.segment(), {.name = "p", .object_size = 100, .count = 10}).ok());
  auto heap = *Heap::Attach(ts.segment());
  auto pool = *Pool::Open(ts.segment(), heap->proc_index(), "p");
  char* a = static_cast<char*>(pool->Get());
  EXPECT_FALSE(pool->Put(a + 8));  // inside an object
  EXPECT_TRUE(pool->Put(a));
  EXPECT_FALSE(pool->Put(a));  // double put
  char* b = static_cast<char*>(pool->Get());
  heap->Free(b);  // the heap refuses a pool object
  EXPECT_EQ(CollectStats(*ts.segment()).invalid_frees, 1u);
  EXPECT_TRUE(pool->Put(b));
  EXPECT_EQ(StatsOf(*ts.segment(), "p").bad_puts, 2u);
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
}

// Pools in slots 1.. carry a page-map class field of 0 like slot 0 (their slot lives in the
// entry's aux bits), so free()'s fast path refuses their objects as it does slot 0's: with
// the slot as the class, an object of the pool in slot 1 passed the 16-byte class's check.
TEST(Pool, HeapFreeIsRefusedForThePoolInEverySlot) {
  TempSegment ts(16 << 20);
  auto heap = *Heap::Attach(ts.segment());
  for (uint32_t slot = 0; slot < 4; ++slot) {
    const std::string name = absl::StrCat("p", slot);  // "p" + to_string: GCC 12 -Wrestrict
    ASSERT_EQ(*CreatePool(*ts.segment(), {.name = name, .object_size = 16, .count = 64}), slot);
    auto pool = *Pool::Open(ts.segment(), heap->proc_index(), name);
    void* a = pool->Get();
    heap->Free(a);
    EXPECT_EQ(CollectStats(*ts.segment()).invalid_frees, slot + 1) << slot;
    EXPECT_TRUE(pool->Put(a));
  }
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST(Pool, CacheLinePaddingAndDelete) {
  TempSegment ts(16 << 20);
  ASSERT_TRUE(CreatePool(*ts.segment(),
                         {.name = "c", .object_size = 8, .count = 64, .cache_line_pad = true})
                  .ok());
  {
    auto pool = *Pool::Open(ts.segment(), 0, "c");
    EXPECT_EQ(pool->stride(), 64u);
    EXPECT_TRUE(ListPools(*ts.segment())[0].cache_line_pad);
    void* p = pool->Get();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    EXPECT_EQ(DeletePool(*ts.segment(), "c").code(), absl::StatusCode::kFailedPrecondition);
    pool->Put(p);
    EXPECT_EQ(DeletePool(*ts.segment(), "c").code(), absl::StatusCode::kFailedPrecondition);
  }  // closed: its caches are returned
  EXPECT_TRUE(DeletePool(*ts.segment(), "c").ok());
  EXPECT_TRUE(ListPools(*ts.segment()).empty());
  EXPECT_EQ(DeletePool(*ts.segment(), "c").code(), absl::StatusCode::kNotFound);
  ValidationReport r = Validate(*ts.segment());
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST(Pool, ThreadsWithCrossThreadPuts) {
  TempSegment ts(64 << 20);
  constexpr uint32_t kCount = 4096;
  ASSERT_TRUE(CreatePool(*ts.segment(), {.name = "t", .object_size = 64, .count = kCount}).ok());
  auto pool = *Pool::Open(ts.segment(), 0, "t");
  constexpr int kThreads = 4, kRounds = 20000;
  std::atomic<void*> mailbox[kThreads] = {};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        auto* p = static_cast<uint64_t*>(pool->Get());
        if (p == nullptr) continue;
        *p = (uint64_t{static_cast<uint32_t>(t)} << 32) | static_cast<uint32_t>(i);
        // Hand it to the next thread's mailbox; put whatever was there (another's object).
        void* old = mailbox[(t + 1) % kThreads].exchange(p);
        if (old != nullptr && !pool->Put(old)) bad.fetch_add(1);
      }
    });
  for (auto& th : threads) th.join();
  for (auto& m : mailbox) {
    if (void* p = m.exchange(nullptr)) {
      EXPECT_TRUE(pool->Put(p));
    }
  }
  EXPECT_EQ(bad.load(), 0u);
  PoolStats s = StatsOf(*ts.segment(), "t");
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.free_central + s.cached, kCount);
}

// Threads that come and go: each exiting thread gives its cached objects back and leaves
// its record to the next thread, so 50 short-lived threads strand nothing and use up no
// records of a pool with 4 of them.
TEST(Pool, ExitingThreadsGiveTheirCachesBack) {
  TempSegment ts(16 << 20);
  constexpr uint32_t kCount = 256;
  ASSERT_TRUE(
      CreatePool(*ts.segment(), {.name = "c", .object_size = 64, .count = kCount, .caches = 4})
          .ok());
  auto pool = *Pool::Open(ts.segment(), 0, "c");
  for (int round = 0; round < 50; ++round) {
    std::thread([&] {
      std::vector<void*> got;
      for (int i = 0; i < 40; ++i) got.push_back(pool->Get());
      for (void* p : got) ASSERT_TRUE(pool->Put(p));  // fills this thread's cache
    }).join();
    PoolStats s = StatsOf(*ts.segment(), "c");
    EXPECT_EQ(s.cached, 0u) << "round " << round
                            << ": objects stranded in an exited thread's cache";
    EXPECT_EQ(s.free_central, kCount) << round;
  }
  // Every thread had a cache (its gets hit it), and the opener's record was reused: all 256
  // objects can still be had through caches, none left behind.
  PoolStats s = StatsOf(*ts.segment(), "c");
  EXPECT_GT(s.hits, 0u);
  EXPECT_EQ(s.gets, 50u * 40);
  std::vector<void*> all;
  while (void* p = pool->Get()) all.push_back(p);
  EXPECT_EQ(all.size(), kCount);
  for (void* p : all) EXPECT_TRUE(pool->Put(p));
  // A thread that exits after its pool is closed finds nothing to give back.
  std::atomic<bool> closed{false}, used{false};
  std::thread late([&] {
    pool->Put(pool->Get());
    used = true;
    while (!closed) std::this_thread::yield();
  });
  while (!used) std::this_thread::yield();
  pool.reset();
  closed = true;
  late.join();
  EXPECT_TRUE(DeletePool(*ts.segment(), "c").ok());
}

// A child forked while another thread opens and closes pool handles exits normally: its
// thread-exit hook is disarmed (the caches are the parent's, and the registry's mutex may
// have been held at the fork), so it neither touches the parent's caches nor hangs.
TEST(Pool, ForkedChildrenExitWhileHandlesComeAndGo) {
  TempSegment ts(16 << 20);
  ASSERT_TRUE(CreatePool(*ts.segment(), {.name = "f", .object_size = 64, .count = 1024}).ok());
  auto pool = *Pool::Open(ts.segment(), 0, "f");
  pool->Put(pool->Get());  // this thread's hook is armed
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop) *Pool::Open(ts.segment(), 0, "f");  // constructs and destroys a handle
  });
  const int hung = testing::ChildrenHungAtExit();
  stop = true;
  churn.join();
  EXPECT_EQ(hung, 0);
  EXPECT_EQ(StatsOf(*ts.segment(), "f").in_use, 0u);
}

// A forked child that uses its parent's handle gets and puts through the central stack,
// never through the parent's cache (both would pop the same slots), and destroying the
// handle there gives back none of the parent's caches.
TEST(Pool, AForkedChildUsesTheCentralStackNotTheParentsCache) {
  TempSegment ts(16 << 20);
  ASSERT_TRUE(CreatePool(*ts.segment(), {.name = "k", .object_size = 64, .count = 256}).ok());
  auto pool = *Pool::Open(ts.segment(), 0, "k");
  pool->Put(pool->Get());  // the parent's cache holds objects now
  const PoolStats before = StatsOf(*ts.segment(), "k");
  ASSERT_GT(before.cached, 0u);
  const pid_t pid = fork();
  if (pid == 0) {
    void* kept = pool->Get();  // out for good: the child exits holding it
    void* back = pool->Get();
    const bool ok = kept != nullptr && back != nullptr && pool->Put(back);
    pool.reset();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const PoolStats after = StatsOf(*ts.segment(), "k");
  EXPECT_EQ(after.cached, before.cached) << "the child used or released the parent's cache";
  EXPECT_EQ(after.in_use, 1u);
  EXPECT_EQ(after.free_central, before.free_central - 1);
  void* p = pool->Get();  // the parent's cache still serves
  EXPECT_NE(p, nullptr);
  EXPECT_TRUE(pool->Put(p));
}

TEST(Pool, ProducerAndConsumerProcessesAndACrash) {
  TempSegment ts(64 << 20);
  constexpr uint32_t kCount = 512;
  ASSERT_TRUE(CreatePool(*ts.segment(), {.name = "x", .object_size = 256, .count = kCount}).ok());
  // A one-slot-per-message queue of refs in an anonymous shared mapping.
  struct Queue {
    std::atomic<uint64_t> slot[64];
    std::atomic<uint64_t> done;
  };
  auto* q = static_cast<Queue*>(
      mmap(nullptr, sizeof(Queue), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(q, MAP_FAILED);
  constexpr uint64_t kMessages = 20000;
  auto child = [&](bool producer) {
    auto seg = Segment::Open(ts.path());
    if (!seg.ok()) _exit(2);
    std::shared_ptr<Segment> s(std::move(*seg));
    auto heap = Heap::Attach(s);
    if (!heap.ok()) _exit(3);
    auto pool = Pool::Open(s, (*heap)->proc_index(), "x");
    if (!pool.ok()) _exit(4);
    for (uint64_t m = 1; m <= kMessages;) {
      auto& slot = q->slot[m % 64];
      if (producer) {
        if (slot.load(std::memory_order_acquire) != 0) continue;
        auto* p = static_cast<uint64_t*>((*pool)->Get());
        if (p == nullptr) continue;
        *p = m;
        slot.store((*heap)->RefOf(p), std::memory_order_release);
        ++m;
      } else {
        const uint64_t ref = slot.load(std::memory_order_acquire);
        if (ref == 0) continue;
        auto* p = static_cast<uint64_t*>((*heap)->PtrOf(ref));
        if (*p != m) _exit(5);
        slot.store(0, std::memory_order_release);
        if (!(*pool)->Put(p)) _exit(6);
        ++m;
      }
    }
    // The producer keeps a few objects in its cache and is then killed.
    if (producer) {
      for (int i = 0; i < 5; ++i) (*pool)->Put((*pool)->Get());
      q->done.store(1);
      pause();
    }
    _exit(0);
  };
  const pid_t prod = fork();
  if (prod == 0) child(true);
  const pid_t cons = fork();
  if (cons == 0) child(false);
  int status = 0;
  ASSERT_EQ(waitpid(cons, &status, 0), cons);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  while (q->done.load() == 0) usleep(1000);
  kill(prod, SIGKILL);
  ASSERT_EQ(waitpid(prod, &status, 0), prod);
  PoolStats before = StatsOf(*ts.segment(), "x");
  EXPECT_GT(before.cached, 0u);  // the dead producer's cache
  uint32_t reclaimed = 0;
  for (uint32_t i = 0; i < ts.segment()->geometry().max_procs; ++i)
    if (uint64_t word = 0; ProcessIsDead(*ts.segment(), i, &word)) {
      ASSERT_TRUE(ReclaimProcess(*ts.segment(), i, word).ok());
      ++reclaimed;
    }
  EXPECT_EQ(reclaimed, 2u);  // the consumer exited without detaching, the producer was killed
  PoolStats after = StatsOf(*ts.segment(), "x");
  EXPECT_EQ(after.cached, 0u);
  EXPECT_EQ(after.free_central, kCount);
  EXPECT_EQ(after.in_use, 0u);
  EXPECT_TRUE(DeletePool(*ts.segment(), "x").ok());
  munmap(q, sizeof(Queue));
}

}  // namespace
}  // namespace shmpool::shm
