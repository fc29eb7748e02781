// Many processes on one arena: N client processes (forked, each attaching through shmpoold
// with shmpool_attach, at most 32 attaches in flight) start 4 threads each that malloc and
// free tagged blocks of mixed sizes, hand some to a thread of the next process, and free
// what the previous process handed them (cross-process frees). Barriers order the phases,
// so every process is attached while every thread works:
//   attach -> [all N attached] -> allocate, free some, hand 8 over -> [all 4N threads]
//   -> free the 8 received, allocate and free again -> [all 4N done]
//   -> the supervisor counts N live process records -> [released] -> detach, exit.
// Asserted: every attach and every thread succeeded (no NULL malloc, no tag overwritten),
// the segment held N live records at once, every child exited 0; afterwards nothing is
// lost: nothing allocated, and the whole capacity allocatable again (every slab of the
// 16 KiB class, then the capacity as one block).
//
// Size: SHMPOOL_SCALE_PROCS (default 200; the long run 1000), 4 threads each.
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/layout.h"
#include "shm/proc_identity.h"
#include "shm/recovery.h"
#include "shm/stats.h"
#include "shmpool/shmpool.h"
#include "tests/stress/block_tag.h"
#include "tests/stress/whole_capacity.h"
#include "tests/support/process_barrier.h"
#include "tests/support/spawn_logged.h"

namespace shmpool::scale {
namespace {

using std::chrono::milliseconds;
using testing::ProcessBarrier;
using testing::SpawnLogged;

constexpr int kThreads = 4;
constexpr int kMaxProcs = 1000;
constexpr int kHeld = 16;   // blocks a thread holds at most
constexpr int kHanded = 8;  // blocks a thread hands to the same thread of the next process
constexpr int kOps = 400;   // malloc/free steps per phase
constexpr int kAttachesInFlight = 32;
constexpr milliseconds kPhaseTimeout{120000};
constexpr const char* kArena = "scale";
constexpr size_t kCheckedSize = 16384;  // the class whose every slab is counted afterwards

int Procs() {
  const char* n = std::getenv("SHMPOOL_SCALE_PROCS");
  return n ? std::clamp(std::atoi(n), 2, kMaxProcs) : 200;
}

// What each thread reports, written only by that thread.
struct ThreadReport {
  std::atomic<uint32_t> done;  // 1 when it finished both phases
  std::atomic<uint32_t> failed_mallocs;
  std::atomic<uint32_t> bad_tags;
  std::atomic<uint32_t> timeouts;  // barriers it gave up on
};

// Blocks handed from one thread to the same thread of the next process.
struct Handoff {
  std::atomic<uint64_t> ref[kHanded];
  std::atomic<uint64_t> size[kHanded];
  std::atomic<uint32_t> seq[kHanded];
};

// Everything the processes share: one anonymous MAP_SHARED mapping made before the forks.
struct Shared {
  sem_t attach_slots;  // attaches in flight
  ProcessBarrier attached, handed, finished, released;
  std::atomic<int32_t> attach_rc[kMaxProcs];
  ThreadReport threads[kMaxProcs][kThreads];
  Handoff outbox[kMaxProcs][kThreads];
};

// A thread of process `proc`: both phases, its report filled in.
void ThreadMain(shmpool_client* c, Shared* sh, int procs, int proc, int t) {
  ThreadReport& rep = sh->threads[proc][t];
  const uint32_t owner = static_cast<uint32_t>(proc * kThreads + t);
  std::mt19937_64 rng(stress::Seed(owner, 15));
  struct Held {
    void* p;
    size_t size;
    uint32_t seq;
  };
  std::vector<Held> held;
  uint32_t seq = 0;
  auto step = [&] {
    if (held.size() < kHeld && (held.empty() || rng() % 100 < 60)) {
      const size_t size = stress::RandomSize(rng);
      void* p = shmpool_malloc(c, size);
      if (p == nullptr) {
        rep.failed_mallocs.fetch_add(1);
        return;
      }
      stress::WriteTag(p, size, owner, ++seq);
      held.push_back({p, size, seq});
    } else {
      const size_t k = rng() % held.size();
      if (!stress::CheckTag(held[k].p, held[k].size, owner, held[k].seq).empty())
        rep.bad_tags.fetch_add(1);
      shmpool_free(c, held[k].p);
      held[k] = held.back();
      held.pop_back();
    }
  };
  auto free_all = [&] {
    for (const Held& h : held) {
      if (!stress::CheckTag(h.p, h.size, owner, h.seq).empty()) rep.bad_tags.fetch_add(1);
      shmpool_free(c, h.p);
    }
    held.clear();
  };
  for (int i = 0; i < kOps; ++i) step();
  Handoff& out = sh->outbox[proc][t];
  for (int k = 0; k < kHanded; ++k) {
    const size_t size = 64 + rng() % 4096;
    void* p = shmpool_malloc(c, size);
    if (p == nullptr) {
      rep.failed_mallocs.fetch_add(1);
      continue;
    }
    stress::WriteTag(p, size, owner, ++seq);
    out.size[k] = size;
    out.seq[k] = seq;
    out.ref[k] = shmpool_ref_of(c, p);
  }
  if (!sh->handed.ArriveAndWait(static_cast<uint32_t>(procs * kThreads), kPhaseTimeout))
    rep.timeouts.fetch_add(1);
  const int from = (proc + procs - 1) % procs;
  Handoff& in = sh->outbox[from][t];
  const uint32_t from_owner = static_cast<uint32_t>(from * kThreads + t);
  for (int k = 0; k < kHanded; ++k) {
    const uint64_t ref = in.ref[k].exchange(0);
    if (ref == 0) continue;  // the sender's malloc failed (counted there)
    void* p = shmpool_ptr_of(c, ref);
    if (!stress::CheckTag(p, in.size[k], from_owner, in.seq[k]).empty()) rep.bad_tags.fetch_add(1);
    shmpool_free(c, p);
  }
  for (int i = 0; i < kOps; ++i) step();
  free_all();
  rep.done = 1;
  if (!sh->finished.ArriveAndWait(static_cast<uint32_t>(procs * kThreads), kPhaseTimeout))
    rep.timeouts.fetch_add(1);
}

// A client process: attach (within the in-flight bound), the barriers, 4 threads, detach.
[[noreturn]] void ChildMain(const std::string& endpoint, Shared* sh, int procs, int proc) {
  timespec until{};
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += kPhaseTimeout.count() / 1000;
  shmpool_client* c = nullptr;
  int rc = -1000;
  if (sem_timedwait(&sh->attach_slots, &until) == 0) {
    rc = shmpool_attach(endpoint.c_str(), kArena, &c);
    sem_post(&sh->attach_slots);
  }
  sh->attach_rc[proc] = rc;
  if (rc != 0)
    std::fprintf(stderr, "process %d: attach failed (%d): %s\n", proc, rc, shmpool_last_error());
  const bool together = sh->attached.ArriveAndWait(static_cast<uint32_t>(procs), kPhaseTimeout);
  if (rc != 0 || !together) {
    // Never joins the threads' barriers: they time out and say so.
    _exit(2);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(ThreadMain, c, sh, procs, proc, t);
  for (std::thread& th : threads) th.join();
  const bool released = sh->released.Wait(1, kPhaseTimeout);
  shmpool_detach(c);
  _exit(released ? 0 : 3);
}

// A private shmpoold serving arena kArena of `capacity`, started without any gRPC in this
// process (the children fork from it).
class Daemon {
 public:
  explicit Daemon(uint64_t capacity, int max_procs) {
    char dir[] = "/tmp/shmpool-scale-XXXXXX";
    char shm_dir[] = "/dev/shm/shmpool-scale-XXXXXX";
    dir_ = mkdtemp(dir);
    shm_dir_ = mkdtemp(shm_dir);
    const std::string config = dir_ + "/shmpoold.toml";
    std::ofstream(config) << "[[arena]]\nname = \"" << kArena << "\"\ncapacity = " << capacity
                          << "\nmax_procs = " << max_procs
                          << "\nmax_thread_caches = " << max_procs * (kThreads + 1) << "\n";
    pid_ = SpawnLogged(
        {SHMPOOLD_PATH, "--listen", endpoint(), "--shm-dir", shm_dir_, "--config", config}, log());
    // Ready once the socket and the segment exist (the daemon listens after creating arenas).
    struct stat st {};
    for (int i = 0; i < 3000; ++i) {
      if (stat(socket().c_str(), &st) == 0 && stat(segment().c_str(), &st) == 0) return;
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "shmpoold did not come up";
  }
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(shm_dir_);
  }
  std::string socket() const { return dir_ + "/shmpoold.sock"; }
  std::string endpoint() const { return "unix:" + socket(); }
  std::string segment() const { return shm_dir_ + "/shmpool." + kArena + ".seg"; }
  std::string log() const { return dir_ + "/shmpoold.log"; }

 private:
  std::string dir_, shm_dir_;
  pid_t pid_ = -1;
};

uint32_t LiveRecords(const shm::Segment& seg) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < seg.geometry().max_procs; ++i) {
    uint64_t word = 0;
    shm::ProcIdentity id;
    if (shm::ReadProcRecord(seg, i, &word, &id) &&
        shm::ProcRecord::StateOf(word) == shm::ProcRecord::kLive)
      ++n;
  }
  return n;
}

TEST(ScaleTest, ManyProcessesAttachedTogetherLoseNothing) {
  const int procs = Procs();
  // Room for what the threads' caches may hold at worst (two batches per class, about
  // 2 MiB a thread: the arena has no cached-bytes budget) besides what they allocate.
  const uint64_t capacity = (static_cast<uint64_t>(procs) * kThreads * 2 + 512) << 20;
  Daemon daemon(capacity, procs + 24);
  auto* sh = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(sh, MAP_FAILED);
  ASSERT_EQ(sem_init(&sh->attach_slots, /*pshared=*/1, kAttachesInFlight), 0);
  const auto start = std::chrono::steady_clock::now();
  std::vector<pid_t> kids;
  for (int i = 0; i < procs; ++i) {
    const pid_t pid = fork();
    if (pid == 0) ChildMain(daemon.endpoint(), sh, procs, i);
    ASSERT_GT(pid, 0);
    kids.push_back(pid);
  }
  // Every thread has finished both phases while every process is attached: count them.
  const bool finished = sh->finished.Wait(static_cast<uint32_t>(procs * kThreads), kPhaseTimeout);
  EXPECT_TRUE(finished) << sh->finished.arrived.load() << " of " << procs * kThreads
                        << " threads finished";
  auto seg = shm::Segment::Open(daemon.segment());
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ(LiveRecords(**seg), static_cast<uint32_t>(procs)) << "processes attached at once";
  sh->released.ArriveAndWait(1, kPhaseTimeout);
  int bad_exits = 0;
  for (pid_t p : kids) {
    int status = 0;
    waitpid(p, &status, 0);
    bad_exits += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int failed_attaches = 0, threads_done = 0;
  uint64_t failed_mallocs = 0, bad_tags = 0, timeouts = 0;
  for (int i = 0; i < procs; ++i) {
    failed_attaches += sh->attach_rc[i] != 0;
    for (const ThreadReport& r : sh->threads[i]) {
      threads_done += r.done.load();
      failed_mallocs += r.failed_mallocs;
      bad_tags += r.bad_tags;
      timeouts += r.timeouts;
    }
  }
  std::printf(
      "scale: %d processes x %d threads in %.1f s: failed attaches %d, threads done %d, "
      "failed mallocs %lu, bad tags %lu, barrier timeouts %lu, bad exits %d\n",
      procs, kThreads, seconds, failed_attaches, threads_done, failed_mallocs, bad_tags, timeouts,
      bad_exits);
  EXPECT_EQ(failed_attaches, 0);
  EXPECT_EQ(threads_done, procs * kThreads);
  EXPECT_EQ(failed_mallocs, 0u);
  EXPECT_EQ(bad_tags, 0u);
  EXPECT_EQ(timeouts, 0u);
  EXPECT_EQ(bad_exits, 0);
  EXPECT_EQ(LiveRecords(**seg), 0u) << "every process detached";
  munmap(sh, sizeof(Shared));

  // Nothing lost: nothing allocated, every 16 KiB slab and then the whole capacity again.
  std::shared_ptr<shm::Segment> segment = std::move(*seg);
  EXPECT_EQ(shm::CollectStats(*segment).allocated, 0u);
  auto heap = shm::Heap::Attach(segment);
  ASSERT_TRUE(heap.ok()) << heap.status();
  stress::ExpectWholeCapacityInClass(**heap, shm::ClassOf(kCheckedSize));
  stress::ExpectWholeCapacityAsOneBlock(**heap);
}

}  // namespace
}  // namespace shmpool::scale
