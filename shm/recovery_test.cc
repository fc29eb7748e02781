// Recovery after kill -9.
//   - A storm: child processes allocate, free and hand blocks to each other through the
//     segment while the parent kills them at random moments and reclaims the dead with
//     ReclaimProcess, as the daemon will. Afterwards Validate() must be clean: no free
//     block reachable twice, none lost from the balance of slabs, caches, rings and
//     allocated counts, no batch left in transit, no ring cell left claimed.
//   - The reclaimer killed: a dead client (killed at a random moment, so its record may
//     hold a step in transit) is frozen as its segment's bytes; each trial restores them,
//     runs ReclaimProcess in a child that is killed at one step (every step in turn, via
//     the step hook) or at a random instant (inside the slab layer too), then reclaims
//     again in the parent. Every trial must end where an uninterrupted reclaim ends: the
//     same blocks allocated in every class, Validate() clean, the record and its caches
//     free; and at the end the whole capacity can be allocated again.
//   - A pusher stopped after it published its batch, before it cleared its Transit, while
//     its other thread pops and allocates that batch (built with the ring's test hook):
//     the reclaim and the test's oracle agree that the batch is allocated, not free.
#include "shm/recovery.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/slab_layer.h"
#include "shm/stats.h"
#include "shm/transfer_ring.h"
#include "shm/validate.h"
#include "tests/crash/allocated_blocks.h"
#include "tests/stress/whole_capacity.h"
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

// Reclaims record `index`, whose process the test knows is dead (or whose reclaim was cut
// short), from the record's word as it is now.
absl::StatusOr<ReclaimReport> ReclaimDead(const Segment& seg, uint32_t index) {
  return ReclaimProcess(seg, index, LoadAcquire(seg.proc(index).xword));
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
      uint64_t word = 0;
      if (!ProcessIsDead(seg, p, &word)) continue;
      for (int attempt = 0;; ++attempt) {
        absl::StatusOr<ReclaimReport> r = ReclaimProcess(seg, p, word);
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

// ---- the reclaimer killed -------------------------------------------------------------

// The dead client: two threads churn blocks of five classes through their bins, spares,
// the (small) rings and the slabs, handing a third of what they free to the other thread,
// until the process is killed. Each thread counts its operations in `ops` (shared with the
// parent), so the parent kills it after an amount of work, not of time: a slow machine or
// a sanitizer must not leave the client with nearly nothing to reclaim.
[[noreturn]] void ChurnUntilKilled(const std::string& path, uint32_t seed,
                                   std::atomic<uint64_t>* ops) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(2);
  auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*seg)));
  if (!heap.ok()) _exit(3);
  Heap* h = heap->get();
  static std::atomic<void*> handoff[2][128];
  auto churn = [h, seed, ops](int me) {
    // Batches of 64, 64, 21, 5 and 2 blocks: the large ones keep the slow paths busy.
    constexpr size_t kSizes[] = {16, 256, 3000, 12000, 30000};
    std::mt19937 rng(seed * 2 + me);
    std::vector<void*> held;
    for (;;) {
      if (held.size() < 200 && rng() % 8 < 5) {
        if (void* p = h->Allocate(kSizes[rng() % 5])) held.push_back(p);
      } else if (!held.empty()) {
        const size_t k = rng() % held.size();
        void* p = held[k];
        held[k] = held.back();
        held.pop_back();
        void* none = nullptr;
        if (rng() % 3 != 0 || !handoff[1 - me][rng() % 128].compare_exchange_strong(none, p))
          h->Free(p);
      }
      if (void* q = handoff[me][rng() % 128].exchange(nullptr)) h->Free(q);
      ops[me].fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread other(churn, 1);
  churn(0);
  _exit(0);
}

// The blocks allocated, exactly: a purge drains the rings into the slabs first.
std::vector<uint64_t> AllocatedAfterPurge(const Segment& seg) {
  Purge(seg);
  return crash::AllocatedBlocks(seg);
}

// Bytes allocated per class (and in large runs): what the lists say is handed out.
std::map<uint32_t, uint64_t> AllocatedByClass(const Segment& seg) {
  const ArenaStats st = CollectStats(seg);
  std::map<uint32_t, uint64_t> out;
  for (const ClassStats& c : st.classes)
    if (c.allocated) out[c.cls] = c.allocated;
  out[0] = st.large_allocated;
  return out;
}

int steps_left = 0;  // in a reclaimer child: steps it takes before it dies
void DieAtStep() {
  if (steps_left-- == 0) raise(SIGKILL);
}
int steps_taken = 0;
void CountStep() { ++steps_taken; }
int returns_left = 0;  // in a reclaimer child: ReturnBlocks calls it finishes before it dies
void DieInReturnBlocks() {
  if (returns_left-- == 0) raise(SIGKILL);
}

// Arms a timer that sends this process SIGKILL `delay` from now (wall time, so the kill
// lands even while the process waits for a core).
void KillSelfAfter(std::chrono::nanoseconds delay) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // the default 50 us slack would blur short delays
  sigevent ev{};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGKILL;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) _exit(4);
  itimerspec when{};
  when.it_value.tv_sec = delay.count() / 1000000000;
  when.it_value.tv_nsec = std::max<int64_t>(delay.count() % 1000000000, 1);
  if (timer_settime(timer, 0, &when, nullptr) != 0) _exit(4);
}

// The ops of the steps the dead client's caches were in when it died ("" when none).
std::string StepsInTransit(const Segment& seg) {
  std::string out;
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t)
    if (LoadAcquire(seg.cache_owner(t)) == CacheOwnerOf(0))
      if (const uint32_t op = LoadRelaxed(seg.cache(t).transit.xop))
        out += (out.empty() ? "op " : ", op ") + std::to_string(op);
  return out;
}

// True while a push-claimed Transit (kToRingClaimed, position xpos - 1) still names its
// batch: until its cell is published. From then on the ring names the batch, and another
// thread may pop and allocate it before the pusher clears its Transit (FinishRingStep
// decides the same way, from the cell's sequence).
bool PushStillNamesItsBatch(const Segment& seg, uint32_t cls, uint64_t xpos) {
  const uint64_t pos = xpos - 1;
  return xpos != 0 && LoadAcquire(seg.ring(cls)[pos & (seg.geometry().ring_slots - 1)].xseq) == pos;
}

// The free blocks outside the slabs: in the lists, spares and Transit chains of process
// record 0's caches, and in every ring cell that holds a batch. An exact reclaim leaves
// each of them free.
std::set<uint64_t> FreeBlocksOutsideSlabs(const Segment& seg) {
  std::set<uint64_t> out;
  auto walk = [&](uint64_t head, uint32_t most) {
    uint32_t n = 0;
    for (uint64_t b = head; b != 0 && n++ < most && b < seg.sections().total; b = seg.block(b).next)
      out.insert(b);
  };
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t) {
    if (LoadAcquire(seg.cache_owner(t)) != CacheOwnerOf(0)) continue;
    const ThreadCache& tc = seg.cache(t);
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      walk(LoadRelaxed(tc.bins[c].xlist), Class(c).batch);
      walk(LoadRelaxed(tc.cold[c].xspare), Class(c).batch);
    }
    const uint32_t op = LoadRelaxed(tc.transit.xop), cls = LoadRelaxed(tc.transit.xcls);
    if (op == Transit::kNone || cls == 0 || cls >= kNumClasses) continue;
    if (op == Transit::kToRingClaimed &&
        !PushStillNamesItsBatch(seg, cls, LoadRelaxed(tc.transit.xpos)))
      continue;
    walk(LoadRelaxed(tc.transit.xbatch), Class(cls).batch);
    if (op == Transit::kToSlabs) walk(LoadRelaxed(tc.transit.xpos), 1);
  }
  const uint64_t slots = seg.geometry().ring_slots;
  for (uint32_t c = 1; c < kNumClasses; ++c) {
    const uint64_t deq = LoadRelaxed(seg.central(c).xdeq), enq = LoadRelaxed(seg.central(c).xenq);
    for (uint64_t pos = deq > slots ? deq - slots : 0; pos < enq; ++pos) {
      const RingCell& cell = seg.ring(c)[pos & (slots - 1)];
      if (LoadRelaxed(cell.xseq) == pos + 1) walk(LoadRelaxed(cell.xbatch), Class(c).batch);
    }
  }
  return out;
}

// The blocks of `named_free` (free before a reclaim) that are allocated after it.
int Lost(const std::set<uint64_t>& named_free, const std::vector<uint64_t>& allocated) {
  int lost = 0;
  for (uint64_t off : allocated) lost += static_cast<int>(named_free.count(off));
  return lost;
}

// A dead client frozen as its segment's bytes, and what an uninterrupted reclaim makes of
// it: the trials restore the bytes, kill a reclaimer somewhere, reclaim again and compare.
class FrozenDeadClient {
 public:
  // `in_transit`: kill clients until one dies inside a step with a batch in transit.
  FrozenDeadClient(uint32_t seed, bool in_transit) {
    std::mt19937 rng(seed);
    for (int attempt = 0;; ++attempt) {
      ts_ = std::make_unique<TempSegment>(
          8 << 20, Geometry{.max_procs = 4, .max_thread_caches = 8, .ring_slots = 8});
      const Segment& seg = *ts_->segment();
      ops_[0] = ops_[1] = 0;
      const pid_t pid = fork();
      if (pid == 0) ChurnUntilKilled(ts_->path(), seed + attempt, ops_);
      // Both threads past their warm-up (bins, spares and rings in use), then a random
      // further stretch of work: an amount of work, not of time, so a slow machine or a
      // sanitizer still leaves caches to reclaim.
      const uint64_t goal = kWarmUpOps + rng() % (4 * kWarmUpOps);
      int status = 0;
      while (ops_[0].load() < goal || ops_[1].load() < kWarmUpOps) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
          ADD_FAILURE() << "the churning client exited before it was killed: " << status;
          return;
        }
        std::this_thread::yield();
      }
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      EXPECT_TRUE(ProcessIsDead(seg, 0));
      transit_ = StepsInTransit(seg);
      if ((!in_transit || !transit_.empty()) && ReclaimSteps(seg) > 10) break;
      if (attempt == 500) break;
    }
    const Segment& seg = *ts_->segment();
    image_.assign(seg.base(), seg.sections().total);
    const std::set<uint64_t> named_free = FreeBlocksOutsideSlabs(seg);
    // The reference, counting the steps on the way.
    SetReclaimStepHookForTesting(CountStep);
    steps_taken = 0;
    absl::StatusOr<ReclaimReport> r = ReclaimDead(seg, 0);
    SetReclaimStepHookForTesting(nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    steps_ = steps_taken;
    blocks_returned_ = r.ok() ? r->blocks_returned : 0;
    const ValidationReport v = Validate(seg);
    EXPECT_TRUE(v.ok()) << v.ToString();
    want_ = AllocatedByClass(seg);
    allocated_ = AllocatedAfterPurge(seg);
    EXPECT_EQ(Lost(named_free, allocated_), 0)
        << "free blocks the dead client's record or a ring named, not returned";
  }

  ~FrozenDeadClient() {
    munmap(ops_, 2 * sizeof(std::atomic<uint64_t>));
    munmap(reclaim_ns_, sizeof(std::atomic<int64_t>));
  }
  FrozenDeadClient(const FrozenDeadClient&) = delete;
  FrozenDeadClient& operator=(const FrozenDeadClient&) = delete;

  const std::string& transit() const { return transit_; }
  int steps() const { return steps_; }
  uint64_t blocks_returned() const { return blocks_returned_; }

  // Restores the dead client, runs a reclaimer child that `arm` (run in the child just
  // before its ReclaimProcess) sets up to die, then reclaims in this process and checks the
  // outcome. Returns true when the child was killed.
  template <typename Arm>
  bool KillReclaimerAndResume(Arm arm, const std::string& what) {
    const Segment& seg = *ts_->segment();
    std::memcpy(seg.base(), image_.data(), image_.size());
    const pid_t pid = fork();
    if (pid == 0) {
      auto child_seg = Segment::Open(ts_->path());
      if (!child_seg.ok()) _exit(2);
      arm();
      const auto t0 = std::chrono::steady_clock::now();
      const bool ok = ReclaimDead(**child_seg, 0).ok();
      *reclaim_ns_ = (std::chrono::steady_clock::now() - t0).count();
      _exit(ok ? 0 : 1);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    EXPECT_TRUE(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << what;
    // Killed before its first store (live), during (dead: a reclaim is owed) or after its
    // last (free): a second reclaim finishes the first or finds nothing to do.
    const uint32_t state = seg.proc(0).state();
    absl::StatusOr<ReclaimReport> r = ReclaimDead(seg, 0);
    if (state == ProcRecord::kFree) {
      EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << what << ": " << r.status();
    } else {
      EXPECT_TRUE(r.ok()) << what << ": " << r.status();
    }
    EXPECT_EQ(seg.proc(0).state(), uint32_t{ProcRecord::kFree}) << what;
    for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t)
      EXPECT_NE(LoadAcquire(seg.cache_owner(t)), CacheOwnerOf(0)) << what << ": cache " << t;
    const ValidationReport v = Validate(seg);
    EXPECT_TRUE(v.ok()) << what << ": " << v.ToString();
    EXPECT_EQ(AllocatedByClass(seg), want_) << what << ": blocks lost or handed out twice";
    EXPECT_EQ(AllocatedAfterPurge(seg), allocated_) << what << ": not the same blocks allocated";
    return killed;
  }

  // Once the trials are done: frees what the dead client left allocated, then the whole
  // capacity must be allocatable in one class.
  void ExpectWholeCapacity() {
    auto heap = Heap::Attach(ts_->segment());
    ASSERT_TRUE(heap.ok()) << heap.status();
    const Segment& seg = *ts_->segment();
    Purge(seg);
    for (uint64_t off : crash::AllocatedBlocks(seg)) {
      seg.block(off).tag = 0;  // killed inside malloc, before it cleared the free tag
      (*heap)->Free((*heap)->PtrOf(off));
    }
    stress::ExpectWholeCapacityInClass(**heap, ClassOf(1024));
  }

  // How long the last reclaimer child that finished took.
  int64_t child_reclaim_ns() const { return *reclaim_ns_; }

 private:
  std::unique_ptr<TempSegment> ts_;
  std::string transit_;
  std::string image_;
  int steps_ = 0;
  uint64_t blocks_returned_ = 0;
  std::map<uint32_t, uint64_t> want_;
  std::vector<uint64_t> allocated_;             // after the reference reclaim (and a purge)
  static constexpr uint64_t kWarmUpOps = 2000;  // per thread: ten times its 200 held blocks

  // The steps an uninterrupted reclaim of `seg`'s dead record 0 would take, counted on a
  // copy (the segment is restored): a client killed too early leaves too few to test.
  int ReclaimSteps(const Segment& seg) {
    const std::string copy(seg.base(), seg.sections().total);
    SetReclaimStepHookForTesting(CountStep);
    steps_taken = 0;
    (void)ReclaimDead(seg, 0);
    SetReclaimStepHookForTesting(nullptr);
    std::memcpy(seg.base(), copy.data(), copy.size());
    return steps_taken;
  }
  // Written by the children (shared mappings): the dead client's operation counts per
  // thread, and the reclaimer's time.
  std::atomic<uint64_t>* ops_ = static_cast<std::atomic<uint64_t>*>(
      mmap(nullptr, 2 * sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  std::atomic<int64_t>* reclaim_ns_ = static_cast<std::atomic<int64_t>*>(
      mmap(nullptr, sizeof(std::atomic<int64_t>), PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
};

// A pusher stopped after it published its batch, before it cleared its Transit (which
// still names the batch, op kToRingClaimed), while its process's other thread pops that
// batch and allocates both its blocks; then the process is killed. The batch is the other
// thread's now: the reclaim leaves it allocated, and the test's oracle must not count it
// free (0 lost), and no block may be reachable twice.
[[noreturn]] void PopWhileThePusherNamesIt(const std::string& path) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(2);
  auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*seg)));
  if (!heap.ok()) _exit(3);
  Heap* h = heap->get();
  static std::atomic<int> phase{0};  // 1: the batch is published; 2: the popper has it
  SetRingHookForTesting([](bool push, RingPoint p) {
    if (!push || p != RingPoint::kDone) return;
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
    raise(SIGKILL);
  });
  std::thread popper([h] {
    while (phase.load() != 1) std::this_thread::yield();
    // An empty cache: its first refill pops the ring's one batch.
    for (uint32_t i = 0; i < Class(ClassOf(30000)).batch; ++i)
      if (h->Allocate(30000) == nullptr) _exit(4);
    phase.store(2);
    for (;;) pause();
  });
  // Two batches and a block: the last free pushes the first batch (the spare) to the ring.
  std::vector<void*> blocks;
  for (uint32_t i = 0; i < 2 * Class(ClassOf(30000)).batch + 1; ++i)
    blocks.push_back(h->Allocate(30000));
  for (void* p : blocks) h->Free(p);
  _exit(5);
}

TEST(Recovery, ABatchPoppedWhileItsPusherNamesItStaysAllocated) {
  TempSegment ts(8 << 20, Geometry{.max_procs = 2, .max_thread_caches = 8, .ring_slots = 8});
  const Segment& seg = *ts.segment();
  const pid_t pid = fork();
  if (pid == 0) PopWhileThePusherNamesIt(ts.path());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ASSERT_EQ(StepsInTransit(seg), "op " + std::to_string(Transit::kToRingClaimed));
  // The popped batch, as the pusher's Transit names it.
  std::vector<uint64_t> popped;
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t)
    if (LoadAcquire(seg.cache_owner(t)) == CacheOwnerOf(0) && LoadRelaxed(seg.cache(t).transit.xop))
      for (uint64_t b = LoadRelaxed(seg.cache(t).transit.xbatch); b; b = seg.block(b).next)
        popped.push_back(b);
  ASSERT_EQ(popped.size(), Class(ClassOf(30000)).batch);
  const std::set<uint64_t> named_free = FreeBlocksOutsideSlabs(seg);
  absl::StatusOr<ReclaimReport> r = ReclaimProcess(seg, 0, LoadAcquire(seg.proc(0).xword));
  ASSERT_TRUE(r.ok()) << r.status();
  const ValidationReport v = Validate(seg);
  EXPECT_TRUE(v.ok()) << v.ToString();
  const std::vector<uint64_t> allocated = AllocatedAfterPurge(seg);
  for (uint64_t b : popped)
    EXPECT_NE(std::find(allocated.begin(), allocated.end(), b), allocated.end())
        << "a block the popper allocated is free";
  EXPECT_EQ(Lost(named_free, allocated), 0)
      << "free blocks the dead client's record or a ring named, not returned";
}

// A process killed inside Heap::Attach, after its claim and before its record went live,
// owned nothing: ReleaseAbandonedClaim frees that record, and never a live claimant's.
TEST(Recovery, AnAttachKilledAfterItsClaimLeavesARecordTheAuditFrees) {
  TempSegment ts(8 << 20, Geometry{.max_procs = 2, .max_thread_caches = 8, .ring_slots = 8});
  const Segment& seg = *ts.segment();
  const pid_t pid = fork();
  if (pid == 0) {
    auto child_seg = Segment::Open(ts.path());
    if (!child_seg.ok()) _exit(2);
    SetAttachClaimHookForTesting([] { raise(SIGKILL); });
    (void)Heap::Attach(std::shared_ptr<Segment>(std::move(*child_seg)));
    _exit(3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  const uint32_t state = seg.proc(0).state();
  ASSERT_TRUE(ProcRecord::IsClaim(state)) << state;
  EXPECT_EQ(ProcRecord::ClaimantOf(state), static_cast<uint32_t>(pid));
  EXPECT_FALSE(ProcessIsDead(seg, 0)) << "a claimed record owes no reclaim";
  // Record 1 claimed by a process that still runs (this one, as if mid-attach): it stays.
  StoreRelease(seg.proc(1).xword,
               ProcRecord::Word(ProcRecord::ClaimBy(static_cast<uint32_t>(getpid())), 1));
  EXPECT_FALSE(ReleaseAbandonedClaim(seg, 1));
  EXPECT_TRUE(ReleaseAbandonedClaim(seg, 0));
  EXPECT_EQ(seg.proc(0).state(), uint32_t{ProcRecord::kFree});
  EXPECT_FALSE(ReleaseAbandonedClaim(seg, 0)) << "freed twice";
  // The freed record can be attached again, and a live record is never released.
  auto heap = Heap::Attach(ts.segment());
  ASSERT_TRUE(heap.ok()) << heap.status();
  EXPECT_EQ((*heap)->proc_index(), 0u);
  EXPECT_FALSE(ReleaseAbandonedClaim(seg, 0));
  EXPECT_EQ(seg.proc(0).state(), uint32_t{ProcRecord::kLive});
  StoreRelease(seg.proc(1).xword, ProcRecord::Word(ProcRecord::kFree, 1));
}

int DeadClients() { return std::max(2, static_cast<int>(3 * Scale())); }

TEST(Recovery, ReclaimerKilledAtEveryStepResumesExactly) {
  for (int client = 0; client < DeadClients(); ++client) {
    FrozenDeadClient dead(1000 + 1000 * client, /*in_transit=*/client > 0);
    ASSERT_GT(dead.steps(), 10);
    int killed = 0;
    for (int k = 0; k < dead.steps(); ++k) {
      killed += dead.KillReclaimerAndResume(
          [k] {
            steps_left = k;
            SetReclaimStepHookForTesting(DieAtStep);
          },
          "client " + std::to_string(client) + ", step " + std::to_string(k));
      if (::testing::Test::HasFailure()) return;
    }
    EXPECT_EQ(killed, dead.steps());
    std::printf("client %d (in transit: %s): %d steps, killed at each; %lu blocks returned\n",
                client, dead.transit().empty() ? "none" : dead.transit().c_str(), dead.steps(),
                static_cast<unsigned long>(dead.blocks_returned()));
    std::fflush(stdout);  // before the next fork: a child must not inherit it
    dead.ExpectWholeCapacity();
  }
}

// The steps above are outside the class mutexes. These kills land inside each ReturnBlocks
// the reclaim makes (its caches' chains, then the last-out drain of the rings), once the
// mutex names the caller's Transit as the holder's and before ReturnBlocks' first store:
// the next locker's repair finishes the step that Transit names, and the resumed reclaim
// must not return the same chain again.
TEST(Recovery, ReclaimerKilledInsideEveryReturnBlocksResumesExactly) {
  for (int client = 0; client < DeadClients(); ++client) {
    FrozenDeadClient dead(1000 + 1000 * client, /*in_transit=*/client > 0);
    int calls = 0;
    for (;; ++calls) {
      ASSERT_LT(calls, 10000) << "the reclaimer was killed in every ReturnBlocks asked for";
      const bool killed = dead.KillReclaimerAndResume(
          [calls] {
            returns_left = calls;
            SetReturnBlocksHookForTesting(DieInReturnBlocks);
          },
          "client " + std::to_string(client) + ", ReturnBlocks " + std::to_string(calls));
      if (::testing::Test::HasFailure()) return;
      if (!killed) break;  // the reclaim made fewer calls: it finished
    }
    EXPECT_GT(calls, 0);
    std::printf("client %d (in transit: %s): killed in each of %d ReturnBlocks\n", client,
                dead.transit().empty() ? "none" : dead.transit().c_str(), calls);
    std::fflush(stdout);  // before the next fork: a child must not inherit it
    dead.ExpectWholeCapacity();
  }
}

TEST(Recovery, ReclaimerKilledAtRandomInstantsResumesExactly) {
  const int trials = std::max(20, static_cast<int>(150 * Scale()));
  for (int client = 0; client < DeadClients(); ++client) {
    FrozenDeadClient dead(5000 + 1000 * client, /*in_transit=*/client > 0);
    // How long a reclaim takes in a child (a fresh mapping: slower than the reference).
    int64_t span = 0;
    for (int i = 0; i < 3; ++i) {
      dead.KillReclaimerAndResume([] {}, "calibration");
      span = std::max(span, 2 * dead.child_reclaim_ns());
    }
    std::mt19937_64 rng(client);
    int killed = 0;
    for (int i = 0; i < trials; ++i) {
      const auto delay = std::chrono::nanoseconds(rng() % span);
      killed += dead.KillReclaimerAndResume([delay] { KillSelfAfter(delay); },
                                            "client " + std::to_string(client) + ", killed after " +
                                                std::to_string(delay.count()) + " ns");
      if (::testing::Test::HasFailure()) return;
    }
    std::printf("client %d (in transit: %s): %d of %d reclaimers killed (a reclaim: %ld ns)\n",
                client, dead.transit().empty() ? "none" : dead.transit().c_str(), killed, trials,
                static_cast<long>(span / 2));
    std::fflush(stdout);  // before the next fork: a child must not inherit it
    EXPECT_GT(killed, 0);
    dead.ExpectWholeCapacity();
  }
}

// ---- a record reused under the reclaimer ---------------------------------------------

// P1, a child attached to record 0, detaches and exits inside the reclaimer's verdict on
// that record (after its reads of the record's identity), and P2 (this process) attaches to
// the freed record and allocates through a cache. The verdict and the reclaim that follows
// it must leave P2 alone: a reclaim of P2's record would give its caches away while it uses
// them.
struct ReuseUnderVerdict {
  const TempSegment* ts = nullptr;
  int go_fd = -1;
  pid_t p1 = -1;
  std::unique_ptr<Heap> p2;
  void* p2_block = nullptr;
};
ReuseUnderVerdict reuse;

void DetachP1AndAttachP2() {
  SetVerdictHookForTesting(nullptr);
  ASSERT_EQ(write(reuse.go_fd, "g", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(reuse.p1, &status, 0), reuse.p1);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto heap = Heap::Attach(reuse.ts->segment());
  ASSERT_TRUE(heap.ok()) << heap.status();
  ASSERT_EQ((*heap)->proc_index(), 0u);
  reuse.p2 = std::move(*heap);
  reuse.p2_block = reuse.p2->Allocate(64);
  ASSERT_NE(reuse.p2_block, nullptr);
}

TEST(Recovery, ARecordReusedDuringTheVerdictIsNotReclaimed) {
  TempSegment ts(8 << 20, Geometry{.max_procs = 1, .max_thread_caches = 8, .ring_slots = 8});
  const Segment& seg = *ts.segment();
  int go[2], ready[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(ready), 0);
  const pid_t p1 = fork();
  if (p1 == 0) {
    auto child_seg = Segment::Open(ts.path());
    if (!child_seg.ok()) _exit(2);
    auto heap = Heap::Attach(std::shared_ptr<Segment>(std::move(*child_seg)));
    if (!heap.ok() || (*heap)->Allocate(64) == nullptr) _exit(3);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(4);
    heap->reset();  // detach
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  reuse = {.ts = &ts, .go_fd = go[1], .p1 = p1};
  const uint64_t p1_word = LoadAcquire(seg.proc(0).xword);

  // What the daemon's audit does: a verdict, then a reclaim if it says dead.
  SetVerdictHookForTesting(DetachP1AndAttachP2);
  uint64_t word = 0;
  const bool dead = ProcessIsDead(seg, 0, &word);
  SetVerdictHookForTesting(nullptr);
  ASSERT_NE(reuse.p2, nullptr);
  EXPECT_FALSE(dead) << "P2 runs";
  if (dead) (void)ReclaimProcess(seg, 0, word);
  // A reclaim of P1's incarnation, decided before P2 attached, finds another incarnation.
  const absl::StatusOr<ReclaimReport> late = ReclaimProcess(seg, 0, p1_word);
  EXPECT_TRUE(absl::IsAborted(late.status())) << late.status();

  EXPECT_EQ(seg.proc(0).state(), uint32_t{ProcRecord::kLive}) << "P2 was reclaimed";
  EXPECT_EQ(seg.proc(0).pid, static_cast<uint32_t>(getpid()));
  int owned = 0;
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t)
    owned += LoadAcquire(seg.cache_owner(t)) == CacheOwnerOf(0);
  EXPECT_EQ(owned, 1) << "P2's cache was given away while P2 uses it";
  EXPECT_FALSE(Heap::Attach(ts.segment()).ok()) << "max_procs is 1 and P2 holds record 0";
  EXPECT_EQ(LoadRelaxed(seg.header().counters.xreclaimed_procs), 0u);
  reuse.p2->Free(reuse.p2_block);
  reuse.p2.reset();
  EXPECT_EQ(seg.proc(0).state(), uint32_t{ProcRecord::kFree}) << "P2 detached";
  const ValidationReport v = Validate(seg);
  EXPECT_TRUE(v.ok()) << v.ToString();
  for (int fd : {go[0], go[1], ready[0], ready[1]}) close(fd);
}

}  // namespace
}  // namespace shmpool::shm
