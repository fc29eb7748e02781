// The SIGBUS guard: a tenant that truncates its own segment file makes every read of the
// mapping past the new end raise SIGBUS. Without the guard the daemon's stats poll dies of
// it; with it the mapping reads zeros, the poll returns and Segment::Faulted() says so.
// A SIGBUS outside every registered mapping still gets the default action.
#include "shm/bus_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shm/client_stats.h"
#include "shm/heap.h"
#include "shm/slab_map.h"
#include "shm/stats.h"
#include "shm/untrusted.h"
#include "tests/support/temp_segment.h"

namespace shmpool::shm {
namespace {

using testing::TempSegment;

// How a SIGBUS that nothing contains ends: the default action, or in a sanitizer build the
// handler the sanitizer installed before the guard (the guard chains to it), which reports
// it and exits.
#if defined(__SANITIZE_ADDRESS__)
#define EXPECT_DIES_OF_SIGBUS(statement) \
  EXPECT_EXIT(statement, ::testing::ExitedWithCode(1), "AddressSanitizer: BUS")
#elif defined(__SANITIZE_THREAD__)
#define EXPECT_DIES_OF_SIGBUS(statement) \
  EXPECT_EXIT(statement, ::testing::ExitedWithCode(66), "ThreadSanitizer: BUS")
#else
#define EXPECT_DIES_OF_SIGBUS(statement) \
  EXPECT_EXIT(statement, ::testing::KilledBySignal(SIGBUS), "")
#endif

// A segment with live blocks in a few classes (the client detached, the blocks stay
// allocated), then its file cut to one page. Returns the daemon's own mapping of it.
std::unique_ptr<Segment> AllocateThenTruncate(const TempSegment& ts) {
  auto daemon = Segment::Open(ts.path());
  EXPECT_TRUE(daemon.ok()) << daemon.status();
  {
    auto heap = Heap::Attach(ts.segment());
    EXPECT_TRUE(heap.ok()) << heap.status();
    for (size_t n : {16, 100, 4000, 100000}) EXPECT_NE((*heap)->Allocate(n), nullptr);
  }
  EXPECT_EQ(truncate(ts.path().c_str(), 4096), 0);
  return std::move(*daemon);
}

uint64_t ReadEverything(const Segment& seg) {
  const ArenaStats a = CollectStats(seg);
  const auto clients = CollectClientStats(seg);
  const SegmentMap map = ReadSegmentMap(seg);
  return a.allocated + clients.size() + map.runs.size();
}

// Death tests run first (gtest orders *DeathTest suites first), before any test installs
// the guard in this process.
TEST(BusGuardDeathTest, WithoutTheGuardATruncatedSegmentKillsTheReader) {
  TempSegment ts(8 << 20);
  const auto seg = AllocateThenTruncate(ts);
  EXPECT_DIES_OF_SIGBUS(std::exit(ReadEverything(*seg) == 0 ? 0 : 1));
}

TEST(BusGuard, TruncatedSegmentReadsZerosAndIsFaulted) {
  InstallBusGuard();
  TempSegment ts(8 << 20);
  const auto daemon = AllocateThenTruncate(ts);
  const Segment& seg = *daemon;
  EXPECT_FALSE(seg.Faulted());
  {
    UntrustedScope scope(std::chrono::milliseconds(100));
    ReadEverything(seg);
  }
  EXPECT_TRUE(seg.Faulted());
  // Zeros from the start of the mapping: the header too.
  EXPECT_EQ(seg.header().xmagic.load(), 0u);
}

TEST(BusGuard, OtherSegmentsAreUntouched) {
  InstallBusGuard();
  TempSegment bad(8 << 20), good(8 << 20);
  const auto seg = AllocateThenTruncate(bad);
  ReadEverything(*seg);
  ReadEverything(*good.segment());
  EXPECT_TRUE(seg->Faulted());
  EXPECT_FALSE(good.segment()->Faulted());
  EXPECT_EQ(good.segment()->header().xmagic.load(), kMagic);
}

TEST(BusGuard, SigbusOutsideARegisteredMappingKeepsTheDefaultAction) {
  InstallBusGuard();
  TempSegment ts(1 << 20);
  // A mapping of the same kind that no Segment registered.
  const int fd = open(ts.path().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<volatile char*>(
      mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  EXPECT_DIES_OF_SIGBUS(std::exit(p[1 << 19]));
  munmap(const_cast<char*>(p), 1 << 20);
  close(fd);
}

TEST(BusGuard, AFullTableLeavesMappingsUnguardedAndFreedSlotsAreReused) {
  static char page[4096];
  std::vector<int> slots;
  for (int slot; (slot = RegisterMapping(page, sizeof(page))) >= 0;) slots.push_back(slot);
  EXPECT_EQ(slots.size(), size_t{kBusGuardSlots});
  EXPECT_FALSE(MappingFaulted(-1));
  UnregisterMapping(slots[7]);
  EXPECT_EQ(RegisterMapping(page, sizeof(page)), slots[7]);
  for (int slot : slots) UnregisterMapping(slot);
}

}  // namespace
}  // namespace shmpool::shm
