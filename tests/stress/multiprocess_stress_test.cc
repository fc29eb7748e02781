// Multi-process stress: proves the allocator is correct across processes that each map
// the segment at their own address. The parent creates a segment and forks N children;
// each child opens the segment and attaches a Heap of its own (it never touches the
// parent's), then runs worker threads (with churn: each worker slot runs a series of
// threads) that allocate random sizes, tag every block (owner pid and thread, sequence,
// checksum over the block), and hand blocks to workers of other processes as offsets
// through inboxes in a separate small shared mapping. The receiver checks the tag before
// it frees the block, in its own process. A child exits non-zero on any mismatch. The
// parent then checks that the segment validates, the counters balance (allocated == 0,
// nmalloc == nfree == what the children counted, no process or cache left attached), and
// that the whole capacity can be allocated again in each of two size classes and as one
// block.
//
// Seeds are deterministic per (child, slot, life). SHMPOOL_STRESS_SCALE scales the work.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/stress/block_tag.h"
#include "tests/stress/whole_capacity.h"
#include "tests/support/temp_segment.h"

namespace shmpool::stress {
namespace {

using shm::Heap;
using shm::Segment;

constexpr int kProcs = 6;
// ThreadSanitizer sees one process: a block freed by one thread here, recycled through
// another process and received by a second thread here looks like a race to it (the
// happens-before went through the other process, where it cannot look). Under TSan each
// child therefore runs one worker slot (whose lives still churn threads, one at a time);
// the threaded stress test covers concurrent threads in one process, where TSan sees all.
#if defined(__SANITIZE_THREAD__)
constexpr int kSlotsPerProc = 1;
#else
constexpr int kSlotsPerProc = 2;
#endif
constexpr int kWorkers = kProcs * kSlotsPerProc;
constexpr int kLivesPerSlot = 3;
constexpr uint32_t kInboxCap = 4096;
constexpr uint64_t kCapacity = 128 << 20;
constexpr size_t kMaxLocal = 200;

// A block in flight between processes: an offset into the segment, never a pointer.
struct Msg {
  uint64_t ref;
  uint32_t size;
  uint32_t owner;
  uint32_t seq;
  uint32_t reserved;
};

struct Inbox {
  pthread_mutex_t mu;  // process-shared
  uint32_t head;
  uint32_t count;
  Msg msgs[kInboxCap];
};

// Lives in its own MAP_SHARED | MAP_ANONYMOUS mapping, made before the fork.
struct Control {
  std::atomic<uint32_t> done;   // worker slots that have sent their last block
  std::atomic<uint32_t> abort;  // a child failed: everybody stops
  std::atomic<uint64_t> allocs, frees, sends, failed_allocs;
  pthread_mutex_t error_mu;
  char error[1024];
  Inbox inboxes[kWorkers];
};

void InitSharedMutex(pthread_mutex_t* m) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
}

class Child {
 public:
  Child(Control& ctl, Heap& heap, int proc, uint64_t ops_per_life)
      : ctl_(ctl), heap_(heap), proc_(proc), ops_per_life_(ops_per_life) {}

  // Runs the slot's lives one after another (a new thread each), then waits for every
  // worker of every process to finish sending and empties the slot's inbox.
  void RunSlot(int slot) {
    const int worker = proc_ * kSlotsPerProc + slot;
    for (int life = 0; life < kLivesPerSlot && !Aborted(); ++life) {
      std::thread t([&] { Life(worker, slot, life); });
      t.join();
    }
    ctl_.done.fetch_add(1);
    while (ctl_.done.load() < kWorkers && !Aborted()) {
      DrainAndFree(worker);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    DrainAndFree(worker);  // nobody sends after `done` reached kWorkers
  }

  bool failed() const { return failed_.load(); }

 private:
  struct Block {
    void* p;
    uint32_t size, owner, seq;
  };

  bool Aborted() const { return ctl_.abort.load(std::memory_order_relaxed) != 0; }

  void Fail(const std::string& what) {
    failed_.store(true);
    pthread_mutex_lock(&ctl_.error_mu);
    if (ctl_.error[0] == '\0')
      std::snprintf(ctl_.error, sizeof(ctl_.error), "pid %d: %s", static_cast<int>(getpid()),
                    what.c_str());
    pthread_mutex_unlock(&ctl_.error_mu);
    std::fprintf(stderr, "multiprocess stress, pid %d: %s\n", static_cast<int>(getpid()),
                 what.c_str());
    ctl_.abort.store(1);
  }

  void Life(int worker, int slot, int life) {
    const uint32_t owner = static_cast<uint32_t>(getpid()) << 8 | slot << 4 | life;
    std::mt19937_64 rng(Seed(0x3a11, worker, life));
    std::vector<Block> local;
    uint32_t seq = 0;
    for (uint64_t op = 0; op < ops_per_life_ && !Aborted(); ++op) {
      const uint64_t r = rng() % 100;
      if (r < 45 && local.size() < kMaxLocal) {
        const size_t size = RandomSize(rng);
        void* p = heap_.Allocate(size);
        if (p == nullptr) {
          ctl_.failed_allocs.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        WriteTag(p, size, owner, seq);
        local.push_back({p, static_cast<uint32_t>(size), owner, seq++});
        ctl_.allocs.fetch_add(1, std::memory_order_relaxed);
      } else if (r < 65 && !local.empty()) {
        const size_t i = rng() % local.size();
        CheckAndFree(local[i]);
        local[i] = local.back();
        local.pop_back();
      } else if (r < 90 && !local.empty()) {
        const size_t i = rng() % local.size();
        Send(worker, rng, local[i]);
        local[i] = local.back();
        local.pop_back();
      } else {
        DrainAndFree(worker);
      }
    }
    for (Block& b : local) {
      if (life % 2)
        Send(worker, rng, b);
      else
        CheckAndFree(b);
    }
  }

  void CheckAndFree(const Block& b) {
    if (std::string e = CheckTag(b.p, b.size, b.owner, b.seq); !e.empty()) return Fail(e);
    heap_.Free(b.p);
    ctl_.frees.fetch_add(1, std::memory_order_relaxed);
  }

  // Queues the block for another worker (mostly of another process); frees it here if
  // that worker's inbox is full.
  void Send(int from, std::mt19937_64& rng, const Block& b) {
    int to = static_cast<int>(rng() % (kWorkers - 1));
    if (to >= from) ++to;
    Inbox& in = ctl_.inboxes[to];
    pthread_mutex_lock(&in.mu);
    const bool room = in.count < kInboxCap;
    if (room) {
      in.msgs[(in.head + in.count) % kInboxCap] = {heap_.RefOf(b.p), b.size, b.owner, b.seq, 0};
      ++in.count;
    }
    pthread_mutex_unlock(&in.mu);
    if (room)
      ctl_.sends.fetch_add(1, std::memory_order_relaxed);
    else
      CheckAndFree(b);
  }

  void DrainAndFree(int worker) {
    Inbox& in = ctl_.inboxes[worker];
    std::vector<Msg> got;
    pthread_mutex_lock(&in.mu);
    for (; in.count > 0; --in.count, in.head = (in.head + 1) % kInboxCap)
      got.push_back(in.msgs[in.head]);
    pthread_mutex_unlock(&in.mu);
    for (const Msg& m : got) {
      void* p = heap_.PtrOf(m.ref);
      if (p == nullptr) return Fail("a message carries a ref outside the segment");
      CheckAndFree({p, m.size, m.owner, m.seq});
    }
  }

  Control& ctl_;
  Heap& heap_;
  const int proc_;
  const uint64_t ops_per_life_;
  std::atomic<bool> failed_{false};
};

// The child process: its own mapping, its own Heap. Never returns.
[[noreturn]] void ChildMain(Control& ctl, const std::string& path, int proc, uint64_t ops) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int code = 0;
  {
    auto seg = Segment::Open(path);
    if (!seg.ok()) {
      std::fprintf(stderr, "child %d: %s\n", proc, seg.status().ToString().c_str());
      ctl.abort.store(1);
      ctl.done.fetch_add(kSlotsPerProc);
      _exit(3);
    }
    std::shared_ptr<Segment> shared(std::move(*seg));
    auto heap = Heap::Attach(shared, {.name = "stress-" + std::to_string(proc)});
    if (!heap.ok()) {
      std::fprintf(stderr, "child %d: %s\n", proc, heap.status().ToString().c_str());
      ctl.abort.store(1);
      ctl.done.fetch_add(kSlotsPerProc);
      _exit(4);
    }
    Child child(ctl, **heap, proc, ops);
    std::vector<std::thread> slots;
    for (int s = 0; s < kSlotsPerProc; ++s) slots.emplace_back([&child, s] { child.RunSlot(s); });
    for (std::thread& t : slots) t.join();
    if (child.failed()) code = 1;
  }  // detach: the Heap returns every cache of this process
  _exit(code);
}

TEST(MultiprocessStress, TaggedBlocksAcrossProcesses) {
  shmpool::testing::TempSegment ts(kCapacity);
  const Segment& seg = *ts.segment();
  void* mem =
      mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Control& ctl = *new (mem) Control{};
  InitSharedMutex(&ctl.error_mu);
  for (Inbox& in : ctl.inboxes) InitSharedMutex(&in.mu);
  const uint64_t ops = Scaled(5000);

  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) ChildMain(ctl, ts.path(), p, ops);
    pids.push_back(pid);
  }

  // Wait for every child, with a deadline: a hung child is killed and reported.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  std::vector<int> status(kProcs, -1);
  for (int left = kProcs; left > 0;) {
    for (int p = 0; p < kProcs; ++p) {
      if (status[p] != -1) continue;
      int st;
      if (waitpid(pids[p], &st, WNOHANG) == pids[p]) {
        status[p] = st;
        --left;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ctl.abort.store(1);  // the rest stop
      }
    }
    if (left > 0 && std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "children did not finish in time";
      for (int p = 0; p < kProcs; ++p)
        if (status[p] == -1) kill(pids[p], SIGKILL);
      ctl.abort.store(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int p = 0; p < kProcs; ++p) {
    EXPECT_TRUE(WIFEXITED(status[p]) && WEXITSTATUS(status[p]) == 0)
        << "child " << p << " (pid " << pids[p] << ") status " << status[p];
  }
  ASSERT_EQ(ctl.error[0], '\0') << ctl.error;
  const uint64_t allocs = ctl.allocs.load(), frees = ctl.frees.load();
  std::printf("%d processes x %d slots x %d lives x %llu ops: %llu allocs, %llu sends\n", kProcs,
              kSlotsPerProc, kLivesPerSlot, static_cast<unsigned long long>(ops),
              static_cast<unsigned long long>(allocs),
              static_cast<unsigned long long>(ctl.sends.load()));
  EXPECT_EQ(ctl.failed_allocs.load(), 0u) << "the arena ran out: raise the capacity";
  EXPECT_EQ(allocs, frees);
  EXPECT_GT(ctl.sends.load(), allocs / 10);

  shm::ValidationReport r = shm::Validate(seg);
  ASSERT_TRUE(r.ok()) << r.ToString();
  shm::ArenaStats st = shm::CollectStats(seg);
  EXPECT_EQ(st.allocated, 0u);
  EXPECT_EQ(st.cached, 0u);
  EXPECT_EQ(st.attached_procs, 0u);
  EXPECT_EQ(st.thread_caches, 0u);
  EXPECT_EQ(st.nmalloc, allocs);
  EXPECT_EQ(st.nfree, frees);
  EXPECT_EQ(st.double_frees + st.invalid_frees, 0u);
  munmap(mem, sizeof(Control));

  auto heap = Heap::Attach(ts.segment(), {.name = "checker"});
  ASSERT_TRUE(heap.ok()) << heap.status();
  ExpectWholeCapacityInClass(**heap, shm::ClassOf(512));
  ExpectWholeCapacityInClass(**heap, shm::ClassOf(5000));
  ExpectWholeCapacityAsOneBlock(**heap);
}

}  // namespace
}  // namespace shmpool::stress
