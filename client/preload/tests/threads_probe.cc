// A multithreaded C++ program, server-style: each thread allocates blocks of varied sizes
// (malloc, new, std::string, std::vector), hands them to the next thread through a locked
// queue, and frees what the previous thread handed it, after checking its contents. Exits 1
// on a corrupted block. Pauses (pause.h) with blocks of every thread still live.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pause.h"

namespace {

constexpr int kThreads = 8;
constexpr int kRounds = 20000;

struct Block {
  std::vector<unsigned char> bytes;
  std::string text;
  unsigned char fill;
};

struct Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Block*> items;
};

std::vector<Queue> queues(kThreads);
std::atomic<int> corrupted{0};

void Run(int me) {
  Queue& out = queues[(me + 1) % kThreads];
  Queue& in = queues[me];
  for (int i = 0; i < kRounds; ++i) {
    const size_t n = 16 + (static_cast<size_t>(i) * 7919 + me * 131) % 4000;
    auto* b = new Block{std::vector<unsigned char>(n), std::string(n % 300, 'x'),
                        static_cast<unsigned char>(i + me)};
    std::memset(b->bytes.data(), b->fill, n);
    {
      std::lock_guard<std::mutex> lock(out.mu);
      out.items.push_back(b);
    }
    out.cv.notify_one();
    if (i == kRounds - 1) break;  // the last block stays queued until after the pause
    std::unique_lock<std::mutex> lock(in.mu);
    in.cv.wait(lock, [&] { return !in.items.empty(); });
    Block* got = in.items.front();
    in.items.pop_front();
    lock.unlock();
    for (unsigned char c : got->bytes)
      if (c != got->fill) corrupted.fetch_add(1);
    if (got->text.find_first_not_of('x') != std::string::npos) corrupted.fetch_add(1);
    delete got;
  }
}

}  // namespace

int main() {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(Run, t);
  for (std::thread& t : threads) t.join();
  PauseForStats();  // each queue still holds the last block handed to it
  for (Queue& q : queues)
    for (Block* b : q.items) delete b;
  if (corrupted.load() != 0) {
    std::fprintf(stderr, "%d corrupted blocks\n", corrupted.load());
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
