// Segment: one mapping of a shmpool segment file (in /dev/shm or any tmpfs or hugetlbfs
// directory), validated before use. It owns the file descriptor and the mapping, and gives
// typed access to each section of layout.h. Every process that uses the segment (the
// daemon and each client) holds its own Segment; none of them is special to the format.
//
// We map with open/mmap rather than Boost.Interprocess because the allocator needs the
// descriptor itself: fallocate to back pages before they are handed out (no SIGBUS on a
// full tmpfs), hole punching to purge, fstat's st_blocks for the resident size, and fds
// passed between processes. Not copyable or movable: pointers into it are handed out.
//
// Every mapping is registered with the SIGBUS guard (untrusted.h, bus_guard.h) from mmap
// to munmap; Faulted() says a SIGBUS hit it (its file was truncated) and the mapping now
// reads private zero pages. geometry() and sections() are this process's copies, taken
// when the image was validated: a bound computed from them holds whatever the segment's
// header says later.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "shm/check.h"
#include "shm/layout.h"

namespace shmpool::shm {

class Segment {
 public:
  // Creates a new segment file at `path` (fails if it exists, a symlink included), of the
  // given geometry.
  static absl::StatusOr<std::unique_ptr<Segment>> Create(const std::string& path,
                                                         const Geometry& geometry,
                                                         mode_t mode = 0600);
  // Maps an existing segment file and validates it; a symlink at `path` is not followed.
  static absl::StatusOr<std::unique_ptr<Segment>> Open(const std::string& path);
  // Maps an already open segment descriptor (e.g. received over a socket); takes the fd.
  static absl::StatusOr<std::unique_ptr<Segment>> FromFd(int fd, const std::string& path);
  // Checks a mapped image of `size` bytes: magic, version, fingerprint, geometry, sections.
  static absl::Status ValidateImage(const void* base, uint64_t size);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  char* base() const { return base_; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  SegmentHeader& header() const { return *reinterpret_cast<SegmentHeader*>(base_); }
  const Sections& sections() const { return sections_; }
  const Geometry& geometry() const { return geometry_; }
  uint64_t data_pages() const { return sections_.pages; }
  // A SIGBUS in this mapping was contained (InstallBusGuard): it reads zeros now.
  bool Faulted() const;

  // Typed access to the records of each section. The index (or offset) is checked
  // against this process's copy of the geometry: callers pass values read from the
  // segment, and a bad one is a failed check (a SegmentFault in an UntrustedScope), never
  // an access outside the mapping. The fast paths (heap.h) do not come through here.
  ProcRecord& proc(uint32_t i) const {
    SHMPOOL_CHECK(i < geometry_.max_procs);
    return reinterpret_cast<ProcRecord*>(base_ + sections_.procs)[i];
  }
  std::atomic<uint32_t>& cache_owner(uint32_t i) const {
    SHMPOOL_CHECK(i < geometry_.max_thread_caches);
    return reinterpret_cast<std::atomic<uint32_t>*>(base_ + sections_.owners)[i];
  }
  ThreadCache& cache(uint32_t i) const {
    SHMPOOL_CHECK(i < geometry_.max_thread_caches);
    return reinterpret_cast<ThreadCache*>(base_ + sections_.caches)[i];
  }
  ClassCentral& central(uint32_t cls) const {
    SHMPOOL_CHECK(cls < kNumClasses);
    return reinterpret_cast<ClassCentral*>(base_ + sections_.classes)[cls];
  }
  RingCell* ring(uint32_t cls) const {
    SHMPOOL_CHECK(cls < kNumClasses);
    return reinterpret_cast<RingCell*>(base_ + sections_.rings) +
           uint64_t{cls} * geometry_.ring_slots;
  }
  std::atomic<uint64_t>& page_entry(uint64_t page) const {
    SHMPOOL_CHECK(page < sections_.pages);
    return reinterpret_cast<std::atomic<uint64_t>*>(base_ + sections_.pagemap)[page];
  }
  RunMeta& run(uint64_t page) const {
    SHMPOOL_CHECK(page < sections_.pages);
    return reinterpret_cast<RunMeta*>(base_ + sections_.runs)[page];
  }
  // Offset of a data page, and back.
  uint64_t page_offset(uint64_t page) const { return sections_.data + (page << kPageShift); }
  uint64_t page_of(uint64_t offset) const { return (offset - sections_.data) >> kPageShift; }
  // A free block in the data pages (16-aligned, as every block is).
  FreeBlock& block(uint64_t offset) const {
    SHMPOOL_CHECK(offset >= sections_.data && offset <= sections_.total - sizeof(FreeBlock) &&
                  offset % alignof(FreeBlock) == 0);
    return *reinterpret_cast<FreeBlock*>(base_ + offset);
  }
  uint64_t free_tag(uint64_t offset) const { return free_tag_key_ ^ offset; }

  // Makes sure the file backs [offset, offset + len): fallocate, so that touching it can
  // never raise SIGBUS. Returns false (errno set) when the file system is full.
  bool Back(uint64_t offset, uint64_t len) const;
  // Releases the memory behind [offset, offset + len): reads give zeros afterwards.
  bool PunchHole(uint64_t offset, uint64_t len) const;
  // Bytes of memory the file holds now (st_blocks * 512).
  uint64_t ResidentBytes() const;

 private:
  Segment(int fd, char* base, uint64_t size, std::string path, int guard_slot);

  int fd_;
  char* base_;
  uint64_t size_;
  std::string path_;
  Geometry geometry_;
  Sections sections_;
  uint64_t free_tag_key_;
  int guard_slot_;  // bus_guard.h slot of the mapping, -1 when unguarded
};

}  // namespace shmpool::shm
