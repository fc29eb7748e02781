// Proves attribution (client_stats.h) in one process, each Heap a client of its own: the
// per-class figures of a producer, a consumer that frees the producer's blocks and an idle
// client are exact; a thread-cache record reused by a new client starts from zero (the
// base taken at claim); a record whose claim is not complete counts nothing but its cached
// bytes; what exited threads, threads without a cache and large blocks did counts; pool
// holdings are per client; and the totals are the sums of the classes.
#include "shm/client_stats.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "shm/heap.h"
#include "shm/pool.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

constexpr size_t kSize = 256;

const ClientStats& Of(const std::vector<ClientStats>& all, const Heap& h) {
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const ClientStats& c) { return c.proc == h.proc_index(); });
  EXPECT_NE(it, all.end()) << "no figures for process record " << h.proc_index();
  return *it;
}

// The figures of class `cls`, or all zeros when the client has none.
ClientClassStats ClassOf(const ClientStats& c, uint32_t cls) {
  for (const ClientClassStats& s : c.classes)
    if (s.cls == cls) return s;
  return {};
}

// The only thread-cache record `h` holds.
const ThreadCache& CacheOf(const Segment& seg, const Heap& h) {
  for (uint32_t i = 0; i < seg.geometry().max_thread_caches; ++i)
    if (LoadAcquire(seg.cache_owner(i)) == CacheOwnerOf(h.proc_index())) return seg.cache(i);
  ADD_FAILURE() << "no cache for process record " << h.proc_index();
  return seg.cache(0);
}

TEST(ClientStats, ProducerConsumerAndIdleClientAreExact) {
  TempSegment ts(64 << 20);
  auto prod = *Heap::Attach(ts.segment(), {.name = "prod"});
  auto cons = *Heap::Attach(ts.segment(), {.name = "cons"});
  auto idle = *Heap::Attach(ts.segment(), {.name = "idle"});
  const uint32_t cls = shm::ClassOf(kSize);
  const SizeClassInfo& info = Class(cls);
  const uint32_t n = 10, k = 4;
  ASSERT_LT(n, info.batch) << "one refill serves every allocation";
  std::vector<void*> blocks;
  for (uint32_t i = 0; i < n; ++i) blocks.push_back(prod->Allocate(kSize));
  for (uint32_t i = 0; i < k; ++i) cons->Free(blocks[i]);

  const std::vector<ClientStats> all = CollectClientStats(*ts.segment());
  ASSERT_EQ(all.size(), 3u);
  const ClientClassStats p = ClassOf(Of(all, *prod), cls);
  EXPECT_EQ(p.size, info.size);
  EXPECT_EQ(p.nmalloc, n);
  EXPECT_EQ(p.nfree, 0u);
  EXPECT_EQ(p.net(), int64_t{n});
  EXPECT_EQ(p.cached, uint64_t{info.batch - n} * info.size) << "the rest of its refill";
  const ClientClassStats c = ClassOf(Of(all, *cons), cls);
  EXPECT_EQ(c.nmalloc, 0u);
  EXPECT_EQ(c.nfree, k);
  EXPECT_EQ(c.net(), -int64_t{k}) << "a consumer frees what it did not allocate";
  EXPECT_EQ(c.net_bytes(), -int64_t{k} * info.size);
  EXPECT_EQ(c.cached, uint64_t{k} * info.size);
  const ClientStats& i = Of(all, *idle);
  EXPECT_EQ(i.thread_caches, 0u);
  EXPECT_TRUE(i.classes.empty());
  EXPECT_EQ(Of(all, *prod).thread_caches, 1u);
  EXPECT_EQ(Of(all, *prod).classes.size(), 1u);
  EXPECT_EQ(Of(all, *prod).net_bytes(), int64_t{n} * info.size);
  EXPECT_EQ(Of(all, *cons).cached, uint64_t{k} * info.size);
  for (uint32_t j = k; j < n; ++j) prod->Free(blocks[j]);
}

TEST(ClientStats, AReusedCacheRecordStartsFromZero) {
  TempSegment ts(64 << 20);
  const uint32_t cls = shm::ClassOf(kSize);
  {
    auto first = *Heap::Attach(ts.segment(), {.name = "first"});
    std::vector<void*> blocks;
    for (int i = 0; i < 5; ++i) blocks.push_back(first->Allocate(kSize));
    for (void* b : blocks) first->Free(b);
    blocks.push_back(first->Allocate(kSize));  // one left allocated, never freed
  }                                            // detached: its cache record is free again
  auto next = *Heap::Attach(ts.segment(), {.name = "next"});
  std::vector<void*> blocks;
  for (int i = 0; i < 3; ++i) blocks.push_back(next->Allocate(kSize));
  const ThreadCache& tc = CacheOf(*ts.segment(), *next);
  ASSERT_EQ(tc.bins[cls].nmalloc(), 9u) << "the same record, counters cumulative";

  const ClientClassStats s = ClassOf(Of(CollectClientStats(*ts.segment()), *next), cls);
  EXPECT_EQ(s.nmalloc, 3u);
  EXPECT_EQ(s.nfree, 0u);
  EXPECT_EQ(s.net(), 3);
  for (void* b : blocks) next->Free(b);
}

// What a client's threads did stays its own after they exit or flush (their cache
// records go back: ProcRecord::retired keeps the figures), and only its own.
TEST(ClientStats, ExitedThreadsStayCounted) {
  TempSegment ts(64 << 20);
  auto prod = *Heap::Attach(ts.segment(), {.name = "prod"});
  auto other = *Heap::Attach(ts.segment(), {.name = "other"});
  const uint32_t cls = shm::ClassOf(kSize);
  std::vector<void*> blocks;
  for (int t = 0; t < 3; ++t)
    std::thread([&] {
      for (int i = 0; i < 7; ++i) blocks.push_back(prod->Allocate(kSize));
      prod->Free(blocks.back());  // 7 allocated, 1 freed by this thread
      blocks.pop_back();
    }).join();
  auto figures = [&] { return Of(CollectClientStats(*ts.segment()), *prod); };
  ClientClassStats s = ClassOf(figures(), cls);
  EXPECT_EQ(s.nmalloc, 21u);
  EXPECT_EQ(s.nfree, 3u);
  EXPECT_EQ(s.cached, 0u) << "the exited threads' blocks went back";
  EXPECT_EQ(figures().thread_caches, 0u);
  // Another client takes a record the threads gave back: it starts from zero, and the
  // producer's figures do not move.
  void* b = other->Allocate(kSize);
  EXPECT_EQ(ClassOf(Of(CollectClientStats(*ts.segment()), *other), cls).nmalloc, 1u);
  EXPECT_EQ(ClassOf(figures(), cls).nmalloc, 21u);
  // This thread's cache, flushed, adds to them.
  blocks.push_back(prod->Allocate(kSize));
  prod->FlushThreadCache();
  s = ClassOf(figures(), cls);
  EXPECT_EQ(s.nmalloc, 22u);
  EXPECT_EQ(s.net(), 19);
  other->Free(b);
  for (void* p : blocks) prod->Free(p);
  EXPECT_EQ(ClassOf(figures(), cls).net(), 0);
}

// Blocks of threads that got no cache record, and large blocks (page runs), count for the
// client that allocated or freed them.
TEST(ClientStats, UncachedThreadsAndLargeBlocksAreAttributed) {
  TempSegment ts(64 << 20, Geometry{.max_procs = 4, .max_thread_caches = 2, .ring_slots = 8});
  auto prod = *Heap::Attach(ts.segment(), {.name = "prod"});
  auto cons = *Heap::Attach(ts.segment(), {.name = "cons"});
  const uint32_t cls = shm::ClassOf(kSize);
  void* mine = prod->Allocate(kSize);    // this thread takes one of the two cache records
  void* theirs = cons->Allocate(kSize);  // and cons the other
  std::vector<void*> blocks;
  std::thread([&] {  // no record left for this thread: single blocks from the slabs
    for (int i = 0; i < 3; ++i) blocks.push_back(prod->Allocate(kSize));
    prod->Free(blocks.back());
    blocks.pop_back();
  })
      .join();
  ClientStats p = Of(CollectClientStats(*ts.segment()), *prod);
  EXPECT_EQ(p.thread_caches, 1u);
  EXPECT_EQ(ClassOf(p, cls).nmalloc, 4u);
  EXPECT_EQ(ClassOf(p, cls).nfree, 1u);

  constexpr size_t kLarge = 100 << 10;  // 25 pages
  void* big = prod->Allocate(kLarge);
  ASSERT_NE(big, nullptr);
  p = Of(CollectClientStats(*ts.segment()), *prod);
  EXPECT_EQ(p.large_nmalloc, 1u);
  EXPECT_EQ(p.large_net_bytes, int64_t{kLarge});
  EXPECT_EQ(p.net_bytes(), p.class_net_bytes + int64_t{kLarge});
  cons->Free(big);  // a consumer frees the producer's large block
  const std::vector<ClientStats> all = CollectClientStats(*ts.segment());
  EXPECT_EQ(Of(all, *prod).large_net_bytes, int64_t{kLarge});
  EXPECT_EQ(Of(all, *cons).large_nfree, 1u);
  EXPECT_EQ(Of(all, *cons).large_net_bytes, -int64_t{kLarge});
  for (void* b : blocks) prod->Free(b);
  prod->Free(mine);
  cons->Free(theirs);
}

TEST(ClientStats, AClaimNotYetCompleteCountsOnlyCachedBytes) {
  TempSegment ts(64 << 20);
  auto h = *Heap::Attach(ts.segment(), {.name = "h"});
  void* b = h->Allocate(kSize);
  ThreadCache& tc = const_cast<ThreadCache&>(CacheOf(*ts.segment(), *h));
  // As between the claimer's CAS and its TakeBase: the stamp is the previous owner's.
  const uint64_t stamp = LoadRelaxed(tc.xbase_attach_ns);
  StoreRelaxed(tc.xbase_attach_ns, stamp + 1);
  const uint32_t cls = shm::ClassOf(kSize);
  ClientStats s = Of(CollectClientStats(*ts.segment()), *h);
  EXPECT_EQ(s.thread_caches, 1u);
  EXPECT_EQ(s.nmalloc, 0u);
  EXPECT_EQ(s.nfree, 0u);
  EXPECT_EQ(s.cached, uint64_t{Class(cls).batch - 1} * Class(cls).size);
  StoreRelaxed(tc.xbase_attach_ns, stamp);
  s = Of(CollectClientStats(*ts.segment()), *h);
  EXPECT_EQ(s.nmalloc, 1u);
  h->Free(b);
}

TEST(ClientStats, PoolHoldingsArePerClient) {
  TempSegment ts(64 << 20);
  ASSERT_TRUE(CreatePool(*ts.segment(), {.name = "pkt", .object_size = 2048, .count = 64}).ok());
  auto prod = *Heap::Attach(ts.segment(), {.name = "prod"});
  auto cons = *Heap::Attach(ts.segment(), {.name = "cons"});
  auto pp = *Pool::Open(ts.segment(), prod->proc_index(), "pkt");
  auto cp = *Pool::Open(ts.segment(), cons->proc_index(), "pkt");
  std::vector<void*> objs;
  for (int i = 0; i < 3; ++i) objs.push_back(pp->Get());
  ASSERT_TRUE(cp->Put(objs[0]));
  const std::vector<ClientStats> all = CollectClientStats(*ts.segment());
  ASSERT_EQ(Of(all, *prod).pools.size(), 1u);
  EXPECT_EQ(Of(all, *prod).pools[0].pool, "pkt");
  EXPECT_EQ(Of(all, *prod).pools[0].held, 3);
  ASSERT_EQ(Of(all, *cons).pools.size(), 1u);
  EXPECT_EQ(Of(all, *cons).pools[0].held, -1);
  EXPECT_TRUE(pp->Put(objs[1]));
  EXPECT_TRUE(pp->Put(objs[2]));
}

}  // namespace
}  // namespace shmpool::shm
