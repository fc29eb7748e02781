// Recovery after kill -9: child processes allocate, free and hand blocks to each other
// through the segment while the parent kills them at random moments and reclaims the dead
// with ReclaimProcess, as the daemon will. Afterwards Validate() must be clean: no free
// block reachable twice, none lost from the balance of slabs, caches, rings and allocated
// counts, no batch left in transit, no ring cell left claimed.
#include "shm/recovery.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

// A multi-producer multi-consumer mailbox of block offsets in an anonymous shared mapping:
// slots hold an offset or 0; producers CAS 0 -> offset, consumers CAS offset -> 0.
struct Mailbox {
  static constexpr int kSlots = 4096;
  std::atomic<uint64_t> slots[kSlots];
};

double Scale() {
  const char* s = std::getenv("SHMPOOL_STRESS_SCALE");
  return s ? std::atof(s) : 1.0;
}

[[noreturn]] void ChildLoop(const std::string& path, Mailbox* box, uint32_t seed) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(2);
  auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*seg)));
  if (!heap.ok()) _exit(3);
  std::mt19937 rng(seed);
  std::vector<void*> live;
  for (uint64_t i = 0;; ++i) {
    const uint32_t r = rng();
    if (live.size() < 512 && (r & 3) != 0) {
      size_t size = 16 + rng() % 2048;
      if ((r >> 8) % 64 == 0) size = 40000 + rng() % 100000;  // large
      void* p = (*heap)->Allocate(size);
      if (p) live.push_back(p);
    } else if (!live.empty()) {
      const size_t k = rng() % live.size();
      void* p = live[k];
      live[k] = live.back();
      live.pop_back();
      if ((r >> 4) % 3 == 0) {  // hand it to another process
        const uint64_t off = (*heap)->RefOf(p);
        uint64_t zero = 0;
        if (!box->slots[rng() % Mailbox::kSlots].compare_exchange_strong(zero, off))
          (*heap)->Free(p);
      } else {
        (*heap)->Free(p);
      }
    }
    if ((r >> 12) % 8 == 0) {  // take one handed over by someone else
      const uint64_t off = box->slots[rng() % Mailbox::kSlots].exchange(0);
      if (off) (*heap)->Free((*heap)->PtrOf(off));
    }
    if (i % 5000 == 0) (*heap)->FlushThreadCache();
  }
}

TEST(Recovery, KillStormLeavesAValidSegment) {
  TempSegment ts(256 << 20);
  auto* box = static_cast<Mailbox*>(
      mmap(nullptr, sizeof(Mailbox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(box, MAP_FAILED);
  constexpr int kChildren = 4;
  const int kills = std::max(20, static_cast<int>(200 * Scale()));
  std::mt19937 rng(12345);
  std::vector<pid_t> kids;
  uint32_t seed = 1;
  auto spawn = [&] {
    const pid_t pid = fork();
    if (pid == 0) ChildLoop(ts.path(), box, seed);
    ++seed;
    return pid;
  };
  for (int i = 0; i < kChildren; ++i) kids.push_back(spawn());
  const Segment& seg = *ts.segment();
  uint64_t reclaimed_caches = 0, returned = 0;
  auto reclaim_dead = [&] {
    for (uint32_t p = 0; p < seg.geometry().max_procs; ++p) {
      if (!ProcessIsDead(seg, p)) continue;
      for (int attempt = 0;; ++attempt) {
        absl::StatusOr<ReclaimReport> r = ReclaimProcess(seg, p);
        if (r.ok()) {
          reclaimed_caches += r->caches;
          returned += r->blocks_returned;
          break;
        }
        ASSERT_TRUE(absl::IsUnavailable(r.status())) << r.status();
        ASSERT_LT(attempt, 1000) << "a ring cell stayed claimed";
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  };
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
    const size_t victim = rng() % kids.size();
    ASSERT_EQ(kill(kids[victim], SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(kids[victim], &status, 0), kids[victim]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    reclaim_dead();
    kids[victim] = spawn();
  }
  for (pid_t pid : kids) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  reclaim_dead();
  EXPECT_GT(reclaimed_caches, 0u);
  // Blocks still in the mailbox are allocated and nobody's: free them here.
  auto heap = Heap::Attach(ts.segment());
  ASSERT_TRUE(heap.ok());
  for (auto& slot : box->slots)
    if (const uint64_t off = slot.exchange(0)) (*heap)->Free((*heap)->PtrOf(off));
  (*heap)->FlushThreadCache();
  const ValidationReport v = Validate(seg);
  EXPECT_TRUE(v.ok()) << v.ToString();
  const ArenaStats st = CollectStats(seg);
  EXPECT_EQ(st.double_frees, 0u);
  EXPECT_EQ(st.invalid_frees, 0u);
  std::printf("kills=%d caches reclaimed=%lu blocks returned=%lu still allocated=%lu B\n", kills,
              static_cast<unsigned long>(reclaimed_caches), static_cast<unsigned long>(returned),
              static_cast<unsigned long>(st.allocated));
  munmap(box, sizeof(Mailbox));
}

}  // namespace
}  // namespace shmpool::shm
