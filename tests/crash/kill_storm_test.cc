// Kill storm: 16 client processes (half attached through shmpoold, half mapping the segment
// directly) allocate and free tagged blocks and hand blocks to each other through a
// shared-memory mailbox, while the supervisor kill -9s random ones at random moments and
// starts replacements. The daemon finds the dead (session end, pidfd, audit) and reclaims
// them. Afterwards the harness frees everything survivors and the dead left allocated
// (from the side logs, see storm_shared.h) and detaches; with NO purge, a fresh process
// must then get at least 99.9% of the 1 KiB blocks it got before the storm, less what the
// kills inside malloc windows may pin (PinnedBy). Then the harness finds and frees the
// blocks those windows leaked, checks every tag, Validate(), and the whole capacity in one
// class after a purge. A second test kills the daemon (kill -9) and restarts it twice in
// the middle of the storm: clients must see no failed operation and no failed attach. A
// third kills a client inside its attach, between its claim of a process record and the
// record going live: the daemon's audit must free that record.
//
// Scale: SHMPOOL_STRESS_SCALE multiplies the kills (CI: a few hundred); SHMPOOL_KILLS=N
// sets them (the long run: SHMPOOL_KILLS=1000 or more). The numbers are printed at the end.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/layout.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "shmpool/shmpool.h"
#include "tests/crash/allocated_blocks.h"
#include "tests/crash/storm_shared.h"
#include "tests/stress/block_tag.h"
#include "tests/stress/whole_capacity.h"
#include "tests/support/spawn_logged.h"

namespace shmpool::crash {
namespace {

using shmpool::testing::SpawnLogged;

using stress::CheckTag;
using stress::RandomSize;
using stress::WriteTag;

constexpr int kChildren = 16;
constexpr const char* kArena = "storm";
constexpr size_t kCountedSize = 1024;  // the class whose capacity is counted

int Kills() {
  if (const char* k = std::getenv("SHMPOOL_KILLS")) return std::max(1, std::atoi(k));
  return std::max(50, static_cast<int>(300 * stress::Scale()));
}

struct Paths {
  std::string dir, shm_dir, socket, config, log, segment;
  std::string endpoint() const { return "unix:" + socket; }
};

// ---- the child ---------------------------------------------------------------------

std::string TagProblem(const void* p, uint64_t size, uint32_t owner, uint32_t seq) {
  return CheckTag(p, size, owner, seq);
}

[[noreturn]] void ChildMain(const Paths& paths, StormShared* sh, int slot, uint64_t seed,
                            bool via_daemon) {
  ChildLog& log = sh->children[slot];
  setpriority(PRIO_PROCESS, 0, 10);  // leave the supervisor and the daemon their CPU
  const uint32_t me = static_cast<uint32_t>(getpid());
  log.pid = me;
  shmpool_client* c = nullptr;
  for (;;) {
    const int rc = via_daemon ? shmpool_attach(paths.endpoint().c_str(), kArena, &c)
                              : shmpool_attach_segment(paths.segment.c_str(), &c);
    if (rc == 0) break;
    log.failed_attaches.fetch_add(1);  // an attach waits out a restart: none should fail
    std::fprintf(stderr, "pid %u: attach failed (%d): %s\n", me, rc, shmpool_last_error());
    usleep(5000);
  }
  log.attached = 1;
  std::mt19937_64 rng(seed);
  uint32_t seq = 0;
  for (;;) {
    const uint32_t k = static_cast<uint32_t>(rng() % kHeld);
    HeldEntry& h = log.held[k];
    const uint32_t r = static_cast<uint32_t>(rng() % 100);
    if (h.state.load() == HeldEntry::kEmpty) {
      if (r < 70) {  // malloc
        const size_t size = RandomSize(rng);
        log.intent_slot = k;
        log.intent_size = size;
        log.intent = ChildLog::kMalloc;
        void* p = shmpool_malloc(c, size);
        if (p == nullptr) {
          log.failed.fetch_add(1);
          log.intent = ChildLog::kNone;
          continue;
        }
        h.packed = Pack(shmpool_ref_of(c, p), size);
        h.state = HeldEntry::kUntagged;
        WriteTag(p, size, me, ++seq);
        h.owner = me;
        h.seq = seq;
        h.state = HeldEntry::kTagged;
        log.intent = ChildLog::kNone;
      } else {  // take one from the mailbox
        const uint32_t m = static_cast<uint32_t>(rng() % kMailboxSlots);
        uint64_t v = sh->mailbox[m].load();
        if (v == 0) continue;
        log.intent_slot = k;
        log.intent = ChildLog::kTake;
        h.packed = v;
        h.state = HeldEntry::kTaking;
        if (sh->mailbox[m].compare_exchange_strong(v, 0)) {
          const void* p = shmpool_ptr_of(c, OffOf(v));
          uint32_t o, s;
          std::memcpy(&o, p, 4);
          std::memcpy(&s, static_cast<const char*>(p) + 4, 4);
          if (!TagProblem(p, SizeOf(v), o, s).empty()) log.corrupt.fetch_add(1);
          h.owner = o;
          h.seq = s;
          h.state = HeldEntry::kTagged;
        } else {
          h.state = HeldEntry::kEmpty;
          h.packed = 0;
        }
        log.intent = ChildLog::kNone;
      }
    } else if (r < 60) {  // free
      const uint64_t v = h.packed.load();
      void* p = shmpool_ptr_of(c, OffOf(v));
      if (!TagProblem(p, SizeOf(v), h.owner, h.seq).empty()) log.corrupt.fetch_add(1);
      log.intent_slot = k;
      log.intent = ChildLog::kFree;
      shmpool_free(c, p);
      h.state = HeldEntry::kEmpty;
      h.packed = 0;
      log.intent = ChildLog::kNone;
    } else {  // hand it over
      const uint64_t v = h.packed.load();
      uint64_t zero = 0;
      const uint32_t m = static_cast<uint32_t>(rng() % kMailboxSlots);
      log.intent_slot = k;
      log.intent = ChildLog::kPut;
      if (sh->mailbox[m].compare_exchange_strong(zero, v)) {
        h.state = HeldEntry::kEmpty;
        h.packed = 0;
      }
      log.intent = ChildLog::kNone;
    }
    log.ops.fetch_add(1, std::memory_order_relaxed);
  }
}

// ---- the supervisor ----------------------------------------------------------------

class Storm {
 public:
  Storm() {
    char dir[] = "/tmp/shmpool-storm-XXXXXX";
    char shm_dir[] = "/dev/shm/shmpool-storm-XXXXXX";
    paths_.dir = mkdtemp(dir);
    paths_.shm_dir = mkdtemp(shm_dir);
    paths_.socket = paths_.dir + "/shmpoold.sock";
    paths_.config = paths_.dir + "/shmpoold.toml";
    paths_.log = paths_.dir + "/shmpoold.log";
    paths_.segment = paths_.shm_dir + "/shmpool." + std::string(kArena) + ".seg";
    std::ofstream(paths_.config) << "[[arena]]\nname = \"" << kArena
                                 << "\"\ncapacity = \"128MiB\"\n";
    sh_ = static_cast<StormShared*>(mmap(nullptr, sizeof(StormShared), PROT_READ | PROT_WRITE,
                                         MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  }
  ~Storm() {
    for (pid_t p : kids_)
      if (p > 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    StopDaemon(SIGTERM);
    munmap(sh_, sizeof(StormShared));
    std::filesystem::remove_all(paths_.dir);
    std::filesystem::remove_all(paths_.shm_dir);
  }

  void StartDaemon() {
    const char* bin = std::getenv("SHMPOOLD_BIN");  // default: the one built with the test
    daemon_ = SpawnLogged({bin ? bin : SHMPOOLD_PATH, "--listen", paths_.endpoint(), "--shm-dir",
                           paths_.shm_dir, "--config", paths_.config},
                          paths_.log);
    ASSERT_GT(daemon_, 0);
    struct stat st {};
    for (int i = 0; i < 500; ++i) {
      if (stat(paths_.socket.c_str(), &st) == 0 && stat(paths_.segment.c_str(), &st) == 0 &&
          LogHas("daemon_started", starts_))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ++starts_;
    ASSERT_TRUE(LogHas("daemon_started", starts_ - 1)) << Log();
  }
  void StopDaemon(int sig) {
    if (daemon_ <= 0) return;
    kill(daemon_, sig);
    waitpid(daemon_, nullptr, 0);
    daemon_ = -1;
  }

  const Paths& paths() const { return paths_; }
  std::string Log() const {
    std::ifstream in(paths_.log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // True when `event` occurs more than `n` times in the log.
  bool LogHas(const std::string& event, int n) const {
    const std::string log = Log();
    int count = 0;
    for (size_t at = log.find("event=" + event); at != std::string::npos;
         at = log.find("event=" + event, at + 1))
      ++count;
    return count > n;
  }

  void SpawnChild(int slot) {
    const uint64_t seed = stress::Seed(slot, ++spawned_);
    const pid_t pid = fork();
    if (pid == 0) ChildMain(paths_, sh_, slot, seed, slot % 2 == 0);
    kids_[slot] = pid;
  }

  // Kill -9 the child of `slot`; Reap() retires it once it is gone (a killed process at
  // nice 10 may take a while to exit: the storm goes on meanwhile).
  void KillChild(int slot) {
    ASSERT_EQ(kill(kids_[slot], SIGKILL), 0);
    dying_[slot] = true;
    ++kills_;
  }
  // Retires every dead child (its side log is final now) and starts a replacement.
  void Reap(bool block, bool respawn) {
    for (int slot = 0; slot < kChildren; ++slot) {
      if (!dying_[slot]) continue;
      int status = 0;
      const pid_t r = waitpid(kids_[slot], &status, block ? 0 : WNOHANG);
      if (r == 0) continue;
      ASSERT_EQ(r, kids_[slot]);
      ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
      kids_[slot] = -1;
      dying_[slot] = false;
      Retire(sh_->children[slot]);
      if (respawn) SpawnChild(slot);
    }
  }
  void Retire(ChildLog& log) {
    const uint32_t intent = log.intent.load();
    if (intent != ChildLog::kNone) {
      ++windows_[intent];
      HeldEntry& h = log.held[log.intent_slot.load()];
      if (intent == ChildLog::kMalloc && h.packed.load() == 0) {
        ++unknowable_;
        const uint64_t size = log.intent_size.load();
        ++unknowable_in_[shm::ClassOf(size)];  // 0: a large block
        unknowable_pinned_ += PinnedBy(size);
      }
      if (h.packed.load() != 0) {
        ASSERT_LT(sh_->nlimbo, static_cast<uint32_t>(kLimbo));
        sh_->limbo[sh_->nlimbo++] = h.packed.load();
      }
      h.state = HeldEntry::kEmpty;
      h.packed = 0;
    }
    log.intent = ChildLog::kNone;
    ops_ += log.ops.exchange(0);
    failed_ += log.failed.exchange(0);
    corrupt_ += log.corrupt.exchange(0);
    failed_attaches_ += log.failed_attaches.exchange(0);
    log.attached = 0;
    log.pid = 0;
  }

  void Phase(const char* what) {
    const auto now = std::chrono::steady_clock::now();
    std::printf("phase %s: %.2f s\n", what, std::chrono::duration<double>(now - t0_).count());
    t0_ = now;
  }

  void Run(bool kill_daemon) {
    ASSERT_NE(sh_, MAP_FAILED);
    t0_ = std::chrono::steady_clock::now();
    StartDaemon();
    Phase("daemon started");
    before_ = BlocksWithoutPurge();
    Phase("capacity before");
    for (int i = 0; i < kChildren; ++i) SpawnChild(i);
    const int kills = Kills();
    std::mt19937_64 rng(777);
    while (kills_ < kills) {
      std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 15000));
      if (kill_daemon && daemon_kills_ < 2 && kills_ >= (daemon_kills_ + 1) * kills / 3) {
        ++daemon_kills_;
        StopDaemon(SIGKILL);  // clients keep allocating; replacements retry their attach
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        StartDaemon();
      }
      Reap(/*block=*/false, /*respawn=*/true);
      const int slot = static_cast<int>(rng() % kChildren);
      if (!dying_[slot]) KillChild(slot);
    }
    Reap(/*block=*/true, /*respawn=*/true);
    Phase("storm");
    ExpectProgress();
    Phase("progress");
    for (int i = 0; i < kChildren; ++i) KillChild(i);
    Reap(/*block=*/true, /*respawn=*/false);
    Phase("kill all");
    WaitReclaimed();
    Phase("reclaimed");
    // Clients attached through the daemon are found through their pidfd.
    EXPECT_NE(Log().find("found_by=pidfd"), std::string::npos) << Log();
    StopDaemon(SIGTERM);
    Phase("daemon stopped");
    Resolve();
    Phase("resolved");
  }

  // Every attached child makes progress: no hang on a lock or a ring cell a dead process
  // held. A child counts as hung when it does no operation for 5 s (the machine is shared:
  // a niced child may wait a while for a core).
  void ExpectProgress() {
    uint64_t before[kChildren];
    bool attached[kChildren];
    for (int i = 0; i < kChildren; ++i) {
      attached[i] = sh_->children[i].attached.load();
      before[i] = sh_->children[i].ops.load();
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int stuck = -1;
    do {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      stuck = -1;
      for (int i = 0; i < kChildren && stuck < 0; ++i)
        if (attached[i] && sh_->children[i].ops.load() == before[i]) stuck = i;
    } while (stuck >= 0 && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(stuck, -1) << "the child in slot " << stuck << " made no progress for 5 s";
  }

  // The daemon reclaims every dead client: no record stays live, dead or claimed.
  void WaitReclaimed() {
    auto seg = shm::Segment::Open(paths_.segment);
    ASSERT_TRUE(seg.ok()) << seg.status();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    uint32_t left = 0;
    do {
      left = 0;
      for (uint32_t i = 0; i < (*seg)->geometry().max_procs; ++i) {
        if ((*seg)->proc(i).state() != shm::ProcRecord::kFree) ++left;
      }
      if (left == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(left, 0u) << "process records the daemon did not reclaim\n" << Log();
  }

  // Frees, through a process that then detaches, every block named by a side log, the limbo
  // or the mailbox that is still allocated, checking the tags of those held for sure.
  void FreeNamed(const std::shared_ptr<shm::Segment>& segment) {
    auto heap = shm::Heap::Attach(segment);
    ASSERT_TRUE(heap.ok()) << heap.status();
    shm::Heap& h = **heap;
    // offset -> (packed, tag owner, seq, certain: the entry surely holds an allocated block)
    struct Named {
      uint64_t packed;
      uint32_t owner, seq;
      bool certain;
    };
    std::map<uint64_t, Named> named;
    for (int i = 0; i < kMaxChildren; ++i)
      for (HeldEntry& e : sh_->children[i].held)
        if (const uint64_t v = e.packed.load())
          named[OffOf(v)] = {v, e.owner.load(), e.seq.load(), e.state == HeldEntry::kTagged};
    for (auto& m : sh_->mailbox)
      if (const uint64_t v = m.load()) named.try_emplace(OffOf(v), Named{v, 0, 0, true});
    for (uint32_t i = 0; i < sh_->nlimbo; ++i)
      named.try_emplace(OffOf(sh_->limbo[i]), Named{sh_->limbo[i], 0, 0, false});
    for (const auto& [off, n] : named) {
      void* p = h.PtrOf(off);
      if (!IsAllocated(h, off)) {
        EXPECT_FALSE(n.certain) << "block at " << off << " held for sure, but free";
        ++already_free_;
        continue;
      }
      if (n.certain) {
        uint32_t o = n.owner, s = n.seq;
        if (o == 0) {  // mailbox: the tag names its owner
          std::memcpy(&o, p, 4);
          std::memcpy(&s, static_cast<char*>(p) + 4, 4);
        }
        const std::string problem = CheckTag(p, SizeOf(n.packed), o, s);
        EXPECT_TRUE(problem.empty()) << problem;
        if (!problem.empty()) ++corrupt_;
      }
      h.Free(p);
      ++freed_;
    }
  }

  // Bytes a block of `size` keeps from other sizes while it is allocated: its slab, or its
  // pages, and one slab of the counted class beside it that the run it splits may waste.
  static uint64_t PinnedBy(uint64_t size) {
    const uint32_t cls = shm::ClassOf(size);
    const uint64_t own = cls ? uint64_t{shm::Class(cls).slab_pages} << shm::kPageShift
                             : (size + shm::kPageSize - 1) & ~uint64_t{shm::kPageSize - 1};
    return own + (uint64_t{shm::Class(shm::ClassOf(kCountedSize)).slab_pages} << shm::kPageShift);
  }

  // Blocks of kCountedSize's class one fresh process gets before NULL, with no purge (freed again
  // after; the process detaches, so the count leaves the arena as it found it).
  uint64_t BlocksWithoutPurge() {
    auto seg = shm::Segment::Open(paths_.segment);
    EXPECT_TRUE(seg.ok()) << seg.status();
    if (!seg.ok()) return 0;
    const shm::Segment& s = **seg;
    auto heap = shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)));
    EXPECT_TRUE(heap.ok()) << heap.status();
    if (!heap.ok()) return 0;
    const uint64_t purges = shm::CollectStats(s).purge_count;
    std::vector<void*> blocks;
    while (void* p = (*heap)->Allocate(shm::Class(shm::ClassOf(kCountedSize)).size))
      blocks.push_back(p);
    EXPECT_EQ(shm::CollectStats(s).purge_count, purges) << "a purge ran while counting";
    for (void* p : blocks) (*heap)->Free(p);
    return blocks.size();
  }

  // Frees every block named by a side log, the limbo or the mailbox that is still allocated,
  // through a process that then detaches (the last one out: the arena drains, reclaim.h).
  // Then, with no purge, a fresh process must get the whole capacity in one class again, less
  // what the kills inside malloc windows may have leaked; then the leaked blocks are found
  // and freed.
  void Resolve() {
    auto seg = shm::Segment::Open(paths_.segment);
    ASSERT_TRUE(seg.ok()) << seg.status();
    std::shared_ptr<shm::Segment> segment = std::move(*seg);
    FreeNamed(segment);
    if (::testing::Test::HasFatalFailure()) return;
    const uint64_t after = BlocksWithoutPurge();
    const uint64_t per_block = shm::Class(shm::ClassOf(kCountedSize)).size;
    const uint64_t leak_allowance = unknowable_pinned_ / per_block;
    const uint64_t floor =
        static_cast<uint64_t>(0.999 * double(before_ - std::min(before_, leak_allowance)));
    EXPECT_GE(after, floor) << "blocks of " << per_block
                            << " B after the storm, no purge: " << after << " of " << before_
                            << " before, " << unknowable_ << " malloc windows may pin "
                            << leak_allowance;
    EXPECT_EQ(failed_attaches_, 0u) << "attach calls that failed";
    std::printf(
        "capacity in %zu B blocks, no purge: before=%lu after=%lu (%.4f%%) malloc_windows=%lu "
        "may_pin=%lu floor=%lu failed_attaches=%lu daemon_kills=%d\n",
        kCountedSize, (unsigned long)before_, (unsigned long)after,
        100.0 * double(after) / double(std::max<uint64_t>(1, before_)), (unsigned long)unknowable_,
        (unsigned long)leak_allowance, (unsigned long)floor, (unsigned long)failed_attaches_,
        daemon_kills_);
    auto heap = shm::Heap::Attach(segment);
    ASSERT_TRUE(heap.ok()) << heap.status();
    shm::Heap& h = **heap;
    // Blocks allocated that no log names: only a kill inside a malloc window (after the
    // block left the allocator, before the side log named it) can leave one. Found exactly
    // once every free block is in a slab chain (caches flushed, rings purged).
    h.FlushThreadCache();
    shm::Purge(*segment);
    const std::vector<uint64_t> unnamed = AllocatedBlocks(*segment);
    // Each kill inside a malloc window leaves at most one such block, of its size's class.
    std::map<uint32_t, uint64_t> unnamed_in;
    uint64_t tagged_free = 0;  // free blocks no list holds: lost (or killed inside malloc
                               // between its commit and its clearing of the free tag)
    for (uint64_t off : unnamed) {
      ++unnamed_in[ClassOfBlock(*segment, off)];
      tagged_free += segment->block(off).tag == segment->free_tag(off);
    }
    for (uint64_t off : unnamed) {
      // Killed between malloc's commit and its clearing of the free tag: allocated, but
      // still tagged; as its owner, clear the tag before the free.
      h.segment().block(off).tag = 0;
      h.Free(h.PtrOf(off));
    }
    uint64_t lost = 0;
    for (const auto& [cls, n] : unnamed_in) {
      EXPECT_LE(n, unknowable_in_[cls])
          << "class " << cls << ": allocated blocks no log names, beyond the kills inside "
          << "malloc windows of that class (lost)";
      lost += n - std::min(n, unknowable_in_[cls]);
    }
    h.FlushThreadCache();
    shm::Purge(*segment);
    const shm::ArenaStats st = shm::CollectStats(*segment);
    const shm::ValidationReport v = shm::Validate(*segment);
    EXPECT_TRUE(v.ok()) << v.ToString();
    EXPECT_EQ(st.double_frees, 0u);
    EXPECT_EQ(st.invalid_frees, 0u);
    EXPECT_EQ(corrupt_, 0u) << "tags overwritten";
    EXPECT_EQ(failed_, 0u) << "failed client operations";
    const uint64_t left_bytes = st.allocated;
    EXPECT_EQ(left_bytes, 0u) << "allocated bytes left after freeing every block";
    std::printf(
        "kills=%d ops=%lu failed_ops=%lu corrupt_tags=%lu windows(malloc/free/put/take)="
        "%lu/%lu/%lu/%lu unknowable=%lu resolved_freed=%lu already_free=%lu "
        "unnamed_allocated=%zu allocated_left=%lu B double_frees=%lu invalid_frees=%lu\n",
        kills_, (unsigned long)ops_, (unsigned long)failed_, (unsigned long)corrupt_,
        (unsigned long)windows_[1], (unsigned long)windows_[2], (unsigned long)windows_[3],
        (unsigned long)windows_[4], (unsigned long)unknowable_, (unsigned long)freed_,
        (unsigned long)already_free_, unnamed.size(), (unsigned long)left_bytes,
        (unsigned long)st.double_frees, (unsigned long)st.invalid_frees);
    std::printf(
        "unnamed allocated blocks per kill: %.4f (found by a segment walk: %zu, %lu of them "
        "still tagged free); beyond the malloc windows of their class (lost): %lu\n",
        double(unnamed.size()) / kills_, unnamed.size(), (unsigned long)tagged_free,
        (unsigned long)lost);
    // Nothing lost for good: the whole capacity again, in one class.
    stress::ExpectWholeCapacityInClass(h, shm::ClassOf(kCountedSize));
  }

  // The size class of an allocated block (0: a large run).
  static uint32_t ClassOfBlock(const shm::Segment& seg, uint64_t off) {
    const uint64_t e = seg.page_entry(seg.page_of(off)).load();
    return shm::PageEntry::KindOf(e) == shm::kPageLarge ? 0 : shm::PageEntry::SlabClassOf(e);
  }

  static bool IsAllocated(const shm::Heap& h, uint64_t off) {
    const void* p = h.PtrOf(off);
    const size_t usable = h.UsableSize(p);
    if (usable == 0) return false;                 // not a block now (free pages)
    if (usable > shm::kMaxSmallSize) return true;  // a large run's start
    return h.segment().block(off).tag != h.segment().free_tag(off);
  }

 private:
  Paths paths_;
  StormShared* sh_ = nullptr;
  pid_t daemon_ = -1;
  std::chrono::steady_clock::time_point t0_;
  int starts_ = 0;
  pid_t kids_[kChildren] = {};
  bool dying_[kChildren] = {};
  uint64_t spawned_ = 0;
  int kills_ = 0, daemon_kills_ = 0;
  uint64_t windows_[5] = {};
  uint64_t unknowable_ = 0, ops_ = 0, failed_ = 0, corrupt_ = 0;
  std::map<uint32_t, uint64_t> unknowable_in_;  // by size class (0: large)
  uint64_t unknowable_pinned_ = 0;              // bytes those windows' blocks may keep (PinnedBy)
  uint64_t failed_attaches_ = 0, freed_ = 0, already_free_ = 0;
  uint64_t before_ = 0;  // BlocksWithoutPurge before the storm
};

TEST(KillStorm, DeadClientsAreReclaimedAndNothingIsLost) {
  Storm storm;
  storm.Run(/*kill_daemon=*/false);
}

TEST(KillStorm, DaemonKilledAndRestartedMidStorm) {
  Storm storm;
  storm.Run(/*kill_daemon=*/true);
}

// A client killed inside its attach, after it claimed a process record and before the
// record went live, owned nothing yet: the daemon's audit frees the record.
TEST(KillStorm, AClientKilledInsideItsAttachLeavesNoRecordBehind) {
  Storm storm;
  storm.StartDaemon();
  const pid_t pid = fork();
  if (pid == 0) {
    shm::SetAttachClaimHookForTesting([] { raise(SIGKILL); });
    shmpool_client* c = nullptr;
    shmpool_attach(storm.paths().endpoint().c_str(), kArena, &c);
    _exit(3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  storm.WaitReclaimed();
  const std::string log = storm.Log();
  EXPECT_NE(log.find("event=abandoned_claim_released"), std::string::npos) << log;
  EXPECT_NE(log.find("pid=" + std::to_string(pid)), std::string::npos) << log;
}

}  // namespace
}  // namespace shmpool::crash
