// Proves the transfer ring's contracts (transfer_ring.h): it is FIFO, it refuses a push
// when full and returns 0 when empty, its positions only grow (each push and each pop
// claims a position never claimed before, and the cells are reused lap after lap), the
// Transit record names the position claimed (plus one), the step reached and the batch
// popped (the crash argument of transfer_ring.h relies on it), and under many threads
// pushing and popping at once every batch comes out exactly once, in push order per
// producer as each consumer sees it. Batches are opaque to the ring, so plain numbers
// stand in for them here. A ring also refuses a push beyond its byte budget.
#include "shm/transfer_ring.h"

#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/atomics.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using shmpool::testing::TempSegment;

Geometry RingGeometry(uint32_t slots) {
  Geometry g;
  g.max_procs = 4;
  g.max_thread_caches = 4;
  g.ring_slots = slots;
  return g;
}

constexpr uint32_t kCls = 5;

// A ring holds at most kRingBytesPerClass: 8 batches of 64 KiB for 2 KiB blocks, however
// many slots it has; small classes are bounded by the slots.
TEST(TransferRing, ByteBudgetBoundsWhatARingHolds) {
  TempSegment ts(1 << 20, RingGeometry(64));
  const Segment& seg = *ts.segment();
  const uint32_t big = ClassOf(2048);
  ASSERT_EQ(uint64_t{Class(big).batch} * Class(big).size, 65536u);
  EXPECT_EQ(RingBatchLimit(seg, big), kRingBytesPerClass / 65536);
  EXPECT_EQ(RingBatchLimit(seg, ClassOf(32768)), kRingBytesPerClass / 65536);
  EXPECT_EQ(RingBatchLimit(seg, ClassOf(16)), 64u);  // 64 x 1 KiB: the slots bound it
  Transit t{};
  for (uint64_t i = 1; i <= RingBatchLimit(seg, big); ++i)
    ASSERT_TRUE(RingPush(seg, big, i * 16, t)) << i;
  EXPECT_FALSE(RingPush(seg, big, 4096, t));
  EXPECT_NE(RingPop(seg, big, t), 0u);
  EXPECT_TRUE(RingPush(seg, big, 4096, t));  // room again after a pop
}

TEST(TransferRing, EmptyRingPopsZero) {
  TempSegment ts(1 << 20, RingGeometry(8));
  Transit t{};
  for (uint32_t c = 1; c < kNumClasses; ++c) EXPECT_EQ(RingPop(*ts.segment(), c, t), 0u);
  EXPECT_EQ(RingDepth(*ts.segment(), kCls), 0u);
}

TEST(TransferRing, FifoUntilFullThenRefuses) {
  TempSegment ts(1 << 20, RingGeometry(8));
  const Segment& seg = *ts.segment();
  Transit t{};
  for (uint64_t i = 1; i <= 8; ++i) {
    ASSERT_TRUE(RingPush(seg, kCls, i * 16, t)) << i;
    EXPECT_EQ(LoadRelaxed(t.xpos), i);  // position i - 1, recorded plus one
    EXPECT_EQ(LoadRelaxed(t.xop), uint32_t{Transit::kToRingClaimed});
    EXPECT_EQ(RingDepth(seg, kCls), i);
  }
  EXPECT_FALSE(RingPush(seg, kCls, 9 * 16, t));
  EXPECT_EQ(RingDepth(seg, kCls), 8u);
  // Other classes have rings of their own.
  EXPECT_EQ(RingPop(seg, kCls + 1, t), 0u);
  EXPECT_TRUE(RingPush(seg, kCls + 1, 4242, t));
  for (uint64_t i = 1; i <= 8; ++i) {
    EXPECT_EQ(RingPop(seg, kCls, t), i * 16);
    EXPECT_EQ(LoadRelaxed(t.xpos), i);
    EXPECT_EQ(LoadRelaxed(t.xop), uint32_t{Transit::kFromRingClaimed});
    EXPECT_EQ(LoadRelaxed(t.xbatch), i * 16);
  }
  EXPECT_EQ(RingPop(seg, kCls, t), 0u);
  EXPECT_EQ(RingPop(seg, kCls + 1, t), 4242u);
  EXPECT_EQ(RingDepth(seg, kCls), 0u);
}

TEST(TransferRing, OnePopMakesRoomForOnePush) {
  TempSegment ts(1 << 20, RingGeometry(4));
  const Segment& seg = *ts.segment();
  Transit t{};
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(RingPush(seg, kCls, i, t));
  ASSERT_FALSE(RingPush(seg, kCls, 5, t));
  ASSERT_EQ(RingPop(seg, kCls, t), 1u);
  ASSERT_TRUE(RingPush(seg, kCls, 5, t));
  ASSERT_FALSE(RingPush(seg, kCls, 6, t));
  for (uint64_t i = 2; i <= 5; ++i) ASSERT_EQ(RingPop(seg, kCls, t), i);
}

// Many laps around a small ring: positions keep growing (never reused), each cell's
// sequence number follows its position, and values come out in order.
TEST(TransferRing, PositionsGrowAcrossManyLaps) {
  constexpr uint32_t kSlots = 4;
  TempSegment ts(1 << 20, RingGeometry(kSlots));
  const Segment& seg = *ts.segment();
  ClassCentral& c = seg.central(kCls);
  Transit t{};
  uint64_t next_push = 1, next_pop = 1;
  std::set<uint64_t> push_positions, pop_positions;
  for (int round = 0; round < 5000; ++round) {
    const int pushes = 1 + round % kSlots;  // 1..4, then pop as many
    for (int i = 0; i < pushes; ++i) {
      ASSERT_TRUE(RingPush(seg, kCls, next_push++, t));
      ASSERT_TRUE(push_positions.insert(LoadRelaxed(t.xpos) - 1).second) << "position reused";
    }
    for (int i = 0; i < pushes; ++i) {
      ASSERT_EQ(RingPop(seg, kCls, t), next_pop++);
      ASSERT_TRUE(pop_positions.insert(LoadRelaxed(t.xpos) - 1).second) << "position reused";
    }
  }
  const uint64_t total = next_push - 1;
  EXPECT_GT(total / kSlots, 3000u) << "laps";
  EXPECT_EQ(LoadRelaxed(c.xenq), total);
  EXPECT_EQ(LoadRelaxed(c.xdeq), total);
  EXPECT_EQ(push_positions.size(), total);
  EXPECT_EQ(*push_positions.rbegin(), total - 1);
  EXPECT_EQ(push_positions, pop_positions);
  // Every cell is free for the next lap: seq == the position that will use it.
  for (uint64_t i = 0; i < kSlots; ++i) {
    const uint64_t pos = total + ((i - total) % kSlots);
    EXPECT_EQ(LoadRelaxed(seg.ring(kCls)[i].xseq), pos) << "cell " << i;
  }
}

// Producers push distinct values (producer << 32 | sequence); consumers pop until every
// value is accounted for. Every value must come out exactly once, and each consumer must
// see each producer's values in increasing order (the ring is linearisable FIFO).
TEST(TransferRing, ManyThreadsEveryBatchOutExactlyOnce) {
  constexpr int kProducers = 4, kConsumers = 4;
  constexpr uint64_t kPerProducer = 40000;
  TempSegment ts(1 << 20, RingGeometry(16));
  const Segment& seg = *ts.segment();
  std::atomic<uint64_t> popped_total{0};
  std::atomic<bool> go{false};
  std::vector<std::vector<uint64_t>> got(kConsumers);
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      while (!go.load()) std::this_thread::yield();
      Transit t{};
      for (uint64_t i = 1; i <= kPerProducer; ++i) {
        const uint64_t v = (uint64_t(p + 1) << 32) | i;
        while (!RingPush(seg, kCls, v, t)) {
          if (failed.load(std::memory_order_relaxed)) return;
          std::this_thread::yield();
        }
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      while (!go.load()) std::this_thread::yield();
      Transit t{};
      std::vector<uint64_t> last(kProducers + 1, 0);
      while (popped_total.load(std::memory_order_relaxed) < kProducers * kPerProducer &&
             !failed.load(std::memory_order_relaxed)) {
        const uint64_t v = RingPop(seg, kCls, t);
        if (v == 0) {
          std::this_thread::yield();
          continue;
        }
        const uint64_t producer = v >> 32, seq = v & 0xffffffff;
        if (producer < 1 || producer > kProducers || seq <= last[producer]) {
          ADD_FAILURE() << "consumer " << c << " popped " << std::hex << v << " after "
                        << (producer <= kProducers ? last[producer] : 0);
          failed.store(true);
          return;
        }
        last[producer] = seq;
        got[c].push_back(v);
        popped_total.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  go.store(true);
  for (std::thread& t : threads) t.join();
  ASSERT_FALSE(failed.load());
  std::vector<uint64_t> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  ASSERT_EQ(all.size(), kProducers * kPerProducer);
  std::set<uint64_t> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), all.size()) << "a batch came out twice";
  for (int p = 0; p < kProducers; ++p)
    for (uint64_t i = 1; i <= kPerProducer; ++i)
      ASSERT_TRUE(unique.count((uint64_t(p + 1) << 32) | i)) << p << " " << i << " lost";
  Transit t{};
  EXPECT_EQ(RingPop(seg, kCls, t), 0u);
  const ClassCentral& cc = seg.central(kCls);
  EXPECT_EQ(LoadRelaxed(cc.xenq), kProducers * kPerProducer);
  EXPECT_EQ(LoadRelaxed(cc.xdeq), kProducers * kPerProducer);
}

}  // namespace
}  // namespace shmpool::shm
