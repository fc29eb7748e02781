// Allocation workloads for comparing mallocs under LD_PRELOAD (preload_run.sh), the kinds
// allocator authors compare on. One process per run; the allocator is whatever malloc the
// process has. Each prints a checksum so that no work is optimised away.
//   xthread  server-style: 4 producer threads allocate requests (64..4096 B), 4 consumers
//            free them (every block freed by another thread than its allocator)
//   threads  8 threads allocating and freeing at once, each its own working set (16..1024 B)
//   large    64 KiB .. 4 MiB blocks, touched once per page, freed in a sliding window
//   realloc  strings and arrays grown by small steps through realloc
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

uint64_t Mix(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

// A queue of blocks between a producer and a consumer, in batches of 64.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<char*>> batches;
  bool done = false;
};

uint64_t CrossThread() {
  constexpr int kPairs = 4, kBatches = 6000, kBatch = 64;
  std::vector<Channel> ch(kPairs);
  std::vector<uint64_t> sums(kPairs);
  std::vector<std::thread> ts;
  for (int p = 0; p < kPairs; ++p) {
    ts.emplace_back([&, p] {
      uint64_t s = 88172645463325252ull + p;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<char*> batch(kBatch);
        for (char*& blk : batch) {
          const size_t n = 64 + Mix(s) % 4033;
          blk = static_cast<char*>(std::malloc(n));
          blk[0] = static_cast<char>(n);
          blk[n - 1] = 1;
        }
        std::unique_lock<std::mutex> lock(ch[p].mu);
        ch[p].cv.wait(lock, [&] { return ch[p].batches.size() < 16; });
        ch[p].batches.push_back(std::move(batch));
        lock.unlock();
        ch[p].cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(ch[p].mu);
      ch[p].done = true;
      ch[p].cv.notify_all();
    });
    ts.emplace_back([&, p] {
      for (;;) {
        std::unique_lock<std::mutex> lock(ch[p].mu);
        ch[p].cv.wait(lock, [&] { return !ch[p].batches.empty() || ch[p].done; });
        if (ch[p].batches.empty()) return;
        std::vector<char*> batch = std::move(ch[p].batches.front());
        ch[p].batches.pop_front();
        lock.unlock();
        ch[p].cv.notify_all();
        for (char* blk : batch) {
          sums[p] += static_cast<unsigned char>(blk[0]);
          std::free(blk);
        }
      }
    });
  }
  for (std::thread& t : ts) t.join();
  uint64_t sum = 0;
  for (uint64_t s : sums) sum += s;
  return sum;
}

uint64_t ManyThreads() {
  constexpr int kThreads = 8, kOps = 1500000, kSlots = 4096;
  std::vector<uint64_t> sums(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::vector<char*> slots(kSlots, nullptr);
      uint64_t s = 0x9E3779B97F4A7C15ull + t;
      for (int i = 0; i < kOps; ++i) {
        const uint64_t r = Mix(s);
        char*& slot = slots[r % kSlots];
        if (slot != nullptr) {
          sums[t] += static_cast<unsigned char>(slot[0]);
          std::free(slot);
        }
        const size_t n = 16 + (r >> 20) % 1009;
        slot = static_cast<char*>(std::malloc(n));
        slot[0] = static_cast<char>(n);
      }
      for (char* p : slots) std::free(p);
    });
  for (std::thread& t : ts) t.join();
  uint64_t sum = 0;
  for (uint64_t s : sums) sum += s;
  return sum;
}

uint64_t Large() {
  constexpr int kOps = 6000, kWindow = 16;
  std::vector<char*> window(kWindow, nullptr);
  uint64_t s = 12345, sum = 0;
  for (int i = 0; i < kOps; ++i) {
    char*& slot = window[i % kWindow];
    std::free(slot);
    const size_t n = (size_t{64} << 10) + Mix(s) % (size_t{4} << 20);
    slot = static_cast<char*>(std::malloc(n));
    for (size_t off = 0; off < n; off += 4096) slot[off] = static_cast<char>(off);
    sum += static_cast<unsigned char>(slot[n / 2 & ~size_t{4095}]);
  }
  for (char* p : window) std::free(p);
  return sum;
}

uint64_t Realloc() {
  constexpr int kObjects = 2000, kSteps = 600;
  uint64_t s = 777, sum = 0;
  for (int round = 0; round < 4; ++round) {
    std::vector<char*> objs(kObjects, nullptr);
    std::vector<size_t> sizes(kObjects, 0);
    for (int step = 0; step < kSteps; ++step)
      for (int o = 0; o < kObjects; ++o) {
        sizes[o] += 1 + Mix(s) % 24;
        objs[o] = static_cast<char*>(std::realloc(objs[o], sizes[o]));
        objs[o][sizes[o] - 1] = static_cast<char>(step);
      }
    for (int o = 0; o < kObjects; ++o) {
      sum += static_cast<unsigned char>(objs[o][sizes[o] - 1]) + sizes[o];
      std::free(objs[o]);
    }
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string w = argc > 1 ? argv[1] : "";
  uint64_t sum;
  if (w == "xthread") {
    sum = CrossThread();
  } else if (w == "threads") {
    sum = ManyThreads();
  } else if (w == "large") {
    sum = Large();
  } else if (w == "realloc") {
    sum = Realloc();
  } else {
    std::fprintf(stderr, "usage: %s xthread|threads|large|realloc\n", argv[0]);
    return 2;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(sum));
  return 0;
}
