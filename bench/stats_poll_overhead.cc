// How much does reading the stats slow the data path? A data-path workload (one thread:
// random replacement in a live set of 65,536 blocks of 16 B..4 KiB, so thread caches,
// transfer rings and slab refills all run) is timed alone and with a second thread calling
// shm::CollectStats (what GetStats runs per arena: every counter, every thread cache, and
// the slab-fill walk over the page map) at a fixed rate (default 100 Hz). Rounds alternate
// (A B A B ...) so drift on a shared machine hits both; the medians of operations per CPU
// second of the workload thread are compared.
//
//   shmpool_stats_poll_overhead [--rounds N] [--seconds S] [--hz H] [--smoke]
//
// Prints one line per round and the overhead of the medians. Not a test: never timed in CI
// (--smoke only checks that it runs).
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "shm/heap.h"
#include "shm/stats.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int rounds = 10;
  double seconds = 1.0;
  double hz = 100;
};

// CPU time of the calling thread: on a shared, loaded machine the workload's own CPU time
// is what the poller can slow (cache-line traffic on the counters it reads), while wall
// time mostly measures the other tenants.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// Operations per CPU second of the workload for `seconds`, with a poller at `hz` (0: none).
double Round(shmpool::shm::Heap& heap, std::vector<void*>& live, double seconds, double hz,
             uint64_t* polls) {
  std::atomic<bool> stop{false};
  std::thread poller;
  if (hz > 0)
    poller = std::thread([&] {
      const auto period = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / hz));
      auto next = Clock::now();
      while (!stop.load(std::memory_order_relaxed)) {
        const shmpool::shm::ArenaStats s = shmpool::shm::CollectStats(heap.segment());
        if (s.capacity == 0) std::abort();
        ++*polls;
        next += period;
        std::this_thread::sleep_until(next);
      }
    });
  uint64_t x = 88172645463325252ull, ops = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const double start = ThreadCpuSeconds();
  while (Clock::now() < end) {
    for (int k = 0; k < 4096; ++k, ++ops) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      void*& slot = live[x % live.size()];
      heap.Free(slot);
      const size_t size = 16 + (x >> 20) % ((x >> 40) % 8 == 0 ? 4096 : 256);
      slot = heap.Allocate(size);
      if (slot == nullptr) std::abort();
      *static_cast<char*>(slot) = 1;
    }
  }
  const double elapsed = ThreadCpuSeconds() - start;
  stop = true;
  if (poller.joinable()) poller.join();
  return ops / elapsed;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      o.rounds = 2, o.seconds = 0.05;
    } else if (a == "--rounds" && i + 1 < argc) {
      o.rounds = std::atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      o.seconds = std::atof(argv[++i]);
    } else if (a == "--hz" && i + 1 < argc) {
      o.hz = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--rounds N] [--seconds S] [--hz H] [--smoke]\n", argv[0]);
      return 2;
    }
  }
  char dir[] = "/dev/shm/shmpool-poll-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  const std::string path = std::string(dir) + "/bench.seg";
  shmpool::shm::Geometry g;
  g.capacity = uint64_t{1} << 30;
  auto seg = shmpool::shm::Segment::Create(path, g);
  if (!seg.ok()) {
    std::fprintf(stderr, "%s\n", std::string(seg.status().message()).c_str());
    return 1;
  }
  std::shared_ptr<shmpool::shm::Segment> shared(std::move(*seg));
  auto heap = shmpool::shm::Heap::Attach(shared);
  if (!heap.ok()) return 1;
  std::vector<void*> live(65536, nullptr);
  for (void*& p : live) p = (*heap)->Allocate(64);
  Round(**heap, live, o.seconds / 2, 0, nullptr);  // warm up
  std::vector<double> base, polled;
  uint64_t polls = 0;
  for (int r = 0; r < o.rounds; ++r) {
    base.push_back(Round(**heap, live, o.seconds, 0, nullptr));
    const uint64_t before = polls;
    polled.push_back(Round(**heap, live, o.seconds, o.hz, &polls));
    std::printf(
        "round %2d: alone %.2f Mops/cpu-s, polled at %.0f Hz %.2f Mops/cpu-s (%llu polls)\n", r,
        base.back() / 1e6, o.hz, polled.back() / 1e6,
        static_cast<unsigned long long>(polls - before));
  }
  const double b = Median(base), p = Median(polled);
  std::printf("median: alone %.2f Mops/cpu-s, polled %.2f Mops/cpu-s: overhead %.2f%%\n", b / 1e6,
              p / 1e6, 100 * (b - p) / b);
  const auto t0 = Clock::now();
  for (int i = 0; i < 20; ++i) shmpool::shm::CollectStats(*shared);
  std::printf("one CollectStats: %.1f us\n",
              std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / 20);
  for (void* q : live) (*heap)->Free(q);
  heap->reset();
  shared.reset();
  unlink(path.c_str());
  rmdir(dir);
  return 0;
}
