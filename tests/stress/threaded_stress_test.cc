// Threaded stress: proves that under many threads allocating random sizes (16 B to 64 KiB,
// large runs included), handing blocks to each other through queues, freeing each other's
// blocks and coming and going (thread churn: every worker slot runs a series of short-lived
// threads), no block is ever handed out twice, overwritten or lost: every block carries a
// tag (owner, sequence number, checksum over the block) that its receiver checks before
// freeing it. At the end the segment validates, the counters balance (allocated == 0,
// nmalloc == nfree == what the workers counted), no thread cache holds anything, and the
// whole capacity can be allocated again in one size class and as one block.
//
// Seeds are deterministic per (slot, life); the interleaving is not. Not a benchmark.
// SHMPOOL_STRESS_SCALE scales the work (sanitizer presets use 0.25 and 0.1).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/stress/block_tag.h"
#include "tests/stress/whole_capacity.h"
#include "tests/support/temp_segment.h"

namespace shmpool::stress {
namespace {

using shm::Heap;

struct Block {
  void* p;
  uint32_t size;
  uint32_t owner;  // slot * 65536 + life: who allocated it
  uint32_t seq;
};

struct Inbox {
  std::mutex mu;
  std::deque<Block> q;
};

struct Config {
  int slots = 12;          // worker threads alive at once
  int lives_per_slot = 8;  // threads each slot runs, one after another
  uint64_t ops_per_life = 6000;
  size_t max_local = 200;  // blocks a worker holds at once
  uint64_t capacity = 128 << 20;
  shm::Geometry geometry;
};

class Stress {
 public:
  Stress(const Config& cfg, Heap& heap) : cfg_(cfg), heap_(heap), inboxes_(cfg.slots) {}

  // One life of a worker slot: a thread that runs ops_per_life random operations.
  void Life(int slot, int life) {
    const uint32_t owner = static_cast<uint32_t>(slot) << 16 | static_cast<uint32_t>(life);
    std::mt19937_64 rng(Seed(0x5eed, slot, life));
    std::vector<Block> local;
    uint32_t seq = 0;
    for (uint64_t op = 0; op < cfg_.ops_per_life && !failed_.load(std::memory_order_relaxed);
         ++op) {
      const uint64_t r = rng() % 100;
      if (r < 45 && local.size() < cfg_.max_local) {
        const size_t size = RandomSize(rng);
        void* p = heap_.Allocate(size);
        if (p == nullptr) {
          failed_allocs_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (heap_.UsableSize(p) < size) return Fail("usable size below the request");
        WriteTag(p, size, owner, seq);
        local.push_back({p, static_cast<uint32_t>(size), owner, seq++});
        allocs_.fetch_add(1, std::memory_order_relaxed);
      } else if (r < 70 && !local.empty()) {
        const size_t i = rng() % local.size();
        CheckAndFree(local[i]);
        local[i] = local.back();
        local.pop_back();
      } else if (r < 90 && !local.empty()) {
        const size_t i = rng() % local.size();
        Send(slot, rng, local[i]);
        local[i] = local.back();
        local.pop_back();
      } else {
        Drain(slot, rng, &local);
      }
    }
    // Half the lives free what they hold; the other half hand it on, so blocks outlive
    // the thread (and the cache) that allocated them.
    for (Block& b : local) {
      if (life % 2)
        Send(slot, rng, b);
      else
        CheckAndFree(b);
    }
  }

  // Frees whatever is still queued (main thread, after every worker has exited).
  void DrainAll() {
    std::mt19937_64 rng(1);
    for (int s = 0; s < cfg_.slots; ++s) {
      std::deque<Block> q;
      {
        std::lock_guard<std::mutex> lock(inboxes_[s].mu);
        q.swap(inboxes_[s].q);
      }
      for (Block& b : q) CheckAndFree(b);
    }
  }

  bool failed() const { return failed_.load(); }
  std::string error() {
    std::lock_guard<std::mutex> lock(error_mu_);
    return error_;
  }
  uint64_t allocs() const { return allocs_.load(); }
  uint64_t frees() const { return frees_.load(); }
  uint64_t sends() const { return sends_.load(); }
  uint64_t failed_allocs() const { return failed_allocs_.load(); }

 private:
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (error_.empty()) error_ = what;
    failed_.store(true);
  }

  void CheckAndFree(const Block& b) {
    if (std::string e = CheckTag(b.p, b.size, b.owner, b.seq); !e.empty()) return Fail(e);
    heap_.Free(b.p);
    frees_.fetch_add(1, std::memory_order_relaxed);
  }

  void Send(int from, std::mt19937_64& rng, const Block& b) {
    int to = static_cast<int>(rng() % (cfg_.slots - 1));
    if (to >= from) ++to;
    std::lock_guard<std::mutex> lock(inboxes_[to].mu);
    inboxes_[to].q.push_back(b);
    sends_.fetch_add(1, std::memory_order_relaxed);
  }

  // Takes everything queued for `slot`: frees most of it, keeps some to pass on later.
  void Drain(int slot, std::mt19937_64& rng, std::vector<Block>* local) {
    std::deque<Block> q;
    {
      std::lock_guard<std::mutex> lock(inboxes_[slot].mu);
      q.swap(inboxes_[slot].q);
    }
    for (Block& b : q) {
      if (rng() % 4 == 0 && local->size() < cfg_.max_local) {
        if (std::string e = CheckTag(b.p, b.size, b.owner, b.seq); !e.empty()) return Fail(e);
        local->push_back(b);
      } else {
        CheckAndFree(b);
      }
    }
  }

  const Config cfg_;
  Heap& heap_;
  std::vector<Inbox> inboxes_;
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::string error_;
  std::atomic<uint64_t> allocs_{0}, frees_{0}, sends_{0}, failed_allocs_{0};
};

// Runs the lives of every slot, starting a slot's next life as soon as its last one ends.
void RunLives(const Config& cfg, Stress& stress) {
  struct Slot {
    std::thread thread;
    std::atomic<bool> done{true};
    int next_life = 0;
  };
  std::vector<Slot> slots(cfg.slots);
  int running = 0;
  for (;;) {
    for (int s = 0; s < cfg.slots; ++s) {
      Slot& slot = slots[s];
      if (!slot.done.load()) continue;
      if (slot.thread.joinable()) {
        slot.thread.join();
        --running;
      }
      if (slot.next_life < cfg.lives_per_slot && !stress.failed()) {
        const int life = slot.next_life++;
        slot.done.store(false);
        slot.thread = std::thread([&stress, &slot, s, life] {
          stress.Life(s, life);
          slot.done.store(true);
        });
        ++running;
      }
    }
    if (running == 0) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void RunStress(const Config& cfg) {
  shmpool::testing::TempSegment ts(cfg.capacity, cfg.geometry);
  const shm::Segment& seg = *ts.segment();
  auto heap = Heap::Attach(ts.segment(), {.name = "threaded-stress"});
  ASSERT_TRUE(heap.ok()) << heap.status();
  Stress stress(cfg, **heap);
  const auto t0 = std::chrono::steady_clock::now();
  RunLives(cfg, stress);
  stress.DrainAll();
  (*heap)->FlushThreadCache();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%d slots x %d lives x %llu ops: %llu allocs, %llu sends, %llu failed, %.2f s\n",
              cfg.slots, cfg.lives_per_slot, static_cast<unsigned long long>(cfg.ops_per_life),
              static_cast<unsigned long long>(stress.allocs()),
              static_cast<unsigned long long>(stress.sends()),
              static_cast<unsigned long long>(stress.failed_allocs()), secs);
  ASSERT_FALSE(stress.failed()) << stress.error();
  EXPECT_EQ(stress.failed_allocs(), 0u) << "the arena ran out: raise the capacity";
  EXPECT_GT(stress.sends(), stress.allocs() / 10);
  EXPECT_EQ(stress.allocs(), stress.frees());

  shm::ValidationReport r = shm::Validate(seg);
  ASSERT_TRUE(r.ok()) << r.ToString();
  shm::ArenaStats st = shm::CollectStats(seg);
  EXPECT_EQ(st.allocated, 0u);
  EXPECT_EQ(st.cached, 0u);
  EXPECT_EQ(st.thread_caches, 0u);
  EXPECT_EQ(st.nmalloc, stress.allocs());
  EXPECT_EQ(st.nfree, stress.frees());
  EXPECT_EQ(st.double_frees + st.invalid_frees, 0u);

  ExpectWholeCapacityInClass(**heap, shm::ClassOf(1024));
  ExpectWholeCapacityInClass(**heap, shm::ClassOf(20000));
  ExpectWholeCapacityAsOneBlock(**heap);
}

Config Default() {
  Config cfg;
  cfg.ops_per_life = Scaled(cfg.ops_per_life);
  return cfg;
}

TEST(ThreadedStress, TaggedBlocksAcrossThreadsWithChurn) { RunStress(Default()); }

// Fewer thread caches than threads: some workers go through the uncached path, and the
// cache records are taken over by one thread after another.
TEST(ThreadedStress, FewerThreadCachesThanThreads) {
  Config cfg = Default();
  cfg.geometry.max_thread_caches = 5;
  cfg.lives_per_slot = 4;
  RunStress(cfg);
}

// A small ring (2 batches per class): full rings send batches to the slabs all the time.
TEST(ThreadedStress, TinyTransferRings) {
  Config cfg = Default();
  cfg.geometry.ring_slots = 2;
  cfg.lives_per_slot = 4;
  RunStress(cfg);
}

}  // namespace
}  // namespace shmpool::stress
