// Proves the no-SIGBUS promise (README.md, "No SIGBUS"; shm/README.md, "Backing"): malloc
// returns NULL when the arena is exhausted and never aborts or faults, even when the backing
// tmpfs is full: a segment whose capacity is larger than the small tmpfs it lives on hands
// out memory until the file system is full, then returns nullptr for every size, from
// threads with and without a cache; every byte handed out can be written; statistics and
// Validate read the segment without faulting and find it clean; freeing and purging gives
// the space back for reuse. Also: Create on a full file system fails with ResourceExhausted
// and leaves no file. Needs to mount a tmpfs (root or CAP_SYS_ADMIN); skips, saying why,
// otherwise.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shm/heap.h"
#include "shm/purge.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/validate.h"

namespace shmpool::shm {
namespace {

constexpr uint64_t kTmpfsBytes = 8 << 20;
constexpr uint64_t kCapacity = 64 << 20;  // 8 times the file system

class FullTmpfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmpool-fulltmpfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    const std::string opts = "size=" + std::to_string(kTmpfsBytes) + ",mode=0700";
    if (mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      const int e = errno;
      rmdir(dir_.c_str());
      dir_.clear();
      GTEST_SKIP() << "cannot mount a " << kTmpfsBytes << "-byte tmpfs (" << std::strerror(e)
                   << "): this test needs root or CAP_SYS_ADMIN";
    }
    mounted_ = true;
    path_ = dir_ + "/arena.seg";
  }
  void TearDown() override {
    if (mounted_) {
      umount2(dir_.c_str(), MNT_DETACH);
      rmdir(dir_.c_str());
    }
  }

  std::string dir_, path_;
  bool mounted_ = false;
};

struct Held {
  void* p;
  size_t size;
};

// Allocates sizes from 16 B to 1 MiB in turn, writing every byte of every block, until a
// whole round of sizes fails. Returns the bytes obtained.
uint64_t FillUntilFull(Heap& heap, std::vector<Held>* held) {
  static constexpr size_t kSizes[] = {16,    48,    100,   512,   1000,   3000,   8192,
                                      20000, 32768, 40000, 70000, 300000, 1 << 20};
  uint64_t bytes = 0;
  for (int round = 0; round < 100000; ++round) {
    int failures = 0;
    for (size_t size : kSizes) {
      void* p = heap.Allocate(size);
      if (p == nullptr) {
        ++failures;
        continue;
      }
      std::memset(p, 0xa5, size);  // a page the file does not hold would SIGBUS here
      held->push_back({p, size});
      bytes += size;
    }
    if (failures == static_cast<int>(std::size(kSizes))) return bytes;
  }
  ADD_FAILURE() << "allocation never failed on a full file system";
  return bytes;
}

void ExpectValid(const Segment& seg) {
  ValidationReport r = Validate(seg);
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST_F(FullTmpfsTest, AllocationReturnsNullNeverSigbus) {
  auto created = Segment::Create(path_, Geometry{.capacity = kCapacity});
  ASSERT_TRUE(created.ok()) << created.status();
  std::shared_ptr<Segment> seg(std::move(*created));
  auto heap = Heap::Attach(seg);
  ASSERT_TRUE(heap.ok()) << heap.status();

  std::vector<Held> held;
  const uint64_t first = FillUntilFull(**heap, &held);
  EXPECT_GT(first, kTmpfsBytes / 4) << "too little memory before the file system was full";
  EXPECT_LE(first, kTmpfsBytes);
  EXPECT_LE(seg->ResidentBytes(), kTmpfsBytes);

  // A new thread has to claim (and back) a cache record: that may fail too. It must get
  // nullptr or a usable block, never a fault.
  std::vector<Held> from_thread;
  std::thread([&] {
    for (size_t size : {16, 64, 2000, 40000}) {
      if (void* p = (*heap)->Allocate(size)) {
        std::memset(p, 0x5a, size);
        from_thread.push_back({p, size});
      }
    }
  }).join();

  ArenaStats st = CollectStats(*seg);  // reads every cache record: must not fault
  EXPECT_GT(st.failed_allocs, 0u);
  EXPECT_GT(st.allocated, 0u);
  ExpectValid(*seg);

  for (const Held& h : held) (*heap)->Free(h.p);
  for (const Held& h : from_thread) (*heap)->Free(h.p);
  (*heap)->FlushThreadCache();
  ExpectValid(*seg);
  EXPECT_EQ(CollectStats(*seg).allocated, 0u);

  // Purged space is usable again: a second fill gets about as much as the first.
  const PurgeResult purged = Purge(*seg);
  EXPECT_GT(purged.released_bytes, first / 2);
  held.clear();
  const uint64_t second = FillUntilFull(**heap, &held);
  EXPECT_GT(second, first / 2) << "first fill " << first;
  ExpectValid(*seg);
  for (const Held& h : held) (*heap)->Free(h.p);
  (*heap)->FlushThreadCache();
  ExpectValid(*seg);
}

TEST_F(FullTmpfsTest, CreateOnAFullFileSystemIsResourceExhausted) {
  // Take every block of the file system with one file.
  const std::string filler = dir_ + "/filler";
  const int fd = open(filler.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  for (off_t chunk = kTmpfsBytes; chunk >= 4096; chunk /= 2) {
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    while (fallocate(fd, 0, st.st_size, chunk) == 0) ASSERT_EQ(fstat(fd, &st), 0);
  }
  close(fd);
  auto s = Segment::Create(path_, Geometry{.capacity = kCapacity});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted) << s.status();
  EXPECT_NE(access(path_.c_str(), F_OK), 0) << "a failed Create left its file behind";
  unlink(filler.c_str());
}

}  // namespace
}  // namespace shmpool::shm
