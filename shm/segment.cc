#include "shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "shm/bus_guard.h"
#include "shm/check.h"

namespace shmpool::shm {
namespace {

uint64_t RoundUp(uint64_t x, uint64_t to) { return (x + to - 1) / to * to; }

absl::Status ErrnoStatus(const char* what, const std::string& path) {
  const int e = errno;
  std::string msg = absl::StrFormat("%s %s: %s", what, path, std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EEXIST) return absl::AlreadyExistsError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  if (e == ENOSPC || e == ENOMEM) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

absl::Status CheckGeometry(const Geometry& g) {
  if (g.capacity == 0 || g.capacity % kPageSize != 0)
    return absl::InvalidArgumentError(
        absl::StrFormat("capacity %d is not a positive multiple of 4 KiB", g.capacity));
  // Page indices are 32-bit and lists store them plus one: at most 2^32 - 1 pages.
  if ((g.capacity >> kPageShift) > ~uint32_t{0})
    return absl::InvalidArgumentError(absl::StrFormat(
        "capacity %d is above the limit of 2^32 - 1 pages (16 TiB - 4 KiB)", g.capacity));
  if (g.max_procs == 0 || g.max_procs > (1u << 24))
    return absl::InvalidArgumentError(absl::StrFormat("max_procs %d out of range", g.max_procs));
  if (g.max_thread_caches > (1u << 24))
    return absl::InvalidArgumentError(
        absl::StrFormat("max_thread_caches %d out of range", g.max_thread_caches));
  if (g.ring_slots < 2 || g.ring_slots > (1u << 16) || (g.ring_slots & (g.ring_slots - 1)))
    return absl::InvalidArgumentError(
        absl::StrFormat("ring_slots %d is not a power of two in [2, 65536]", g.ring_slots));
  return absl::OkStatus();
}

}  // namespace

Sections ComputeSections(const Geometry& g) {
  Sections s{};
  s.pages = g.capacity >> kPageShift;
  uint64_t at = RoundUp(sizeof(SegmentHeader), kPageSize);
  auto place = [&at](uint64_t bytes) {
    const uint64_t here = at;
    at = RoundUp(at + bytes, kPageSize);
    return here;
  };
  s.procs = place(uint64_t{g.max_procs} * sizeof(ProcRecord));
  s.owners = place(uint64_t{g.max_thread_caches} * sizeof(uint32_t));
  s.classes = place(uint64_t{kNumClasses} * sizeof(ClassCentral));
  s.rings = place(uint64_t{kNumClasses} * g.ring_slots * sizeof(RingCell));
  s.caches = place(uint64_t{g.max_thread_caches} * sizeof(ThreadCache));
  s.pagemap = place(s.pages * sizeof(uint64_t));
  s.runs = place(s.pages * sizeof(RunMeta));
  s.data = place(g.capacity);
  s.total = at;
  return s;
}

Segment::Segment(int fd, char* base, uint64_t size, std::string path, int guard_slot)
    : fd_(fd), base_(base), size_(size), path_(std::move(path)), guard_slot_(guard_slot) {
  geometry_ = header().geometry;
  sections_ = header().sections;
  free_tag_key_ = header().free_tag_key;
}

Segment::~Segment() {
  UnregisterMapping(guard_slot_);
  munmap(base_, size_);
  close(fd_);
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(const std::string& path, const Geometry& g,
                                                         mode_t mode) {
  if (absl::Status st = CheckGeometry(g); !st.ok()) return st;
  const Sections s = ComputeSections(g);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("cannot create segment", path);
  fchmod(fd, mode);  // open() applied the umask
  auto fail = [&](const char* what) {
    absl::Status st = ErrnoStatus(what, path);
    close(fd);
    unlink(path.c_str());
    return st;
  };
  if (ftruncate(fd, static_cast<off_t>(s.total)) != 0) return fail("cannot size segment");
  // Back every section that is touched regardless of load; caches, the page map and run
  // metadata are backed as they come into use.
  if (fallocate(fd, 0, 0, static_cast<off_t>(s.caches)) != 0)
    return fail("cannot reserve segment metadata in");
  void* base = mmap(nullptr, s.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail("cannot map segment");
  const int slot = RegisterMapping(base, s.total);

  auto* h = static_cast<SegmentHeader*>(base);
  h->layout_version = kLayoutVersion;
  h->header_bytes = sizeof(SegmentHeader);
  h->class_fingerprint = ClassFingerprint();
  h->geometry = g;
  h->sections = s;
  SHMPOOL_CHECK(getrandom(&h->free_tag_key, sizeof(h->free_tag_key), 0) == sizeof(h->free_tag_key));
  h->free_tag_key &= ~uint64_t{0xf};  // offsets are 16-aligned: keep the low bits unused
  h->free_tag_key |= 1;               // and make a tag never equal to 0
  h->created_unix_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  h->heap.mutex.Init();
  h->reclaim.mutex.Init();
  auto* centrals = reinterpret_cast<ClassCentral*>(static_cast<char*>(base) + s.classes);
  for (uint32_t c = 0; c < kNumClasses; ++c) centrals[c].mutex.Init();
  auto* rings = reinterpret_cast<RingCell*>(static_cast<char*>(base) + s.rings);
  for (uint64_t i = 0; i < uint64_t{kNumClasses} * g.ring_slots; ++i)
    rings[i].xseq.store(i % g.ring_slots, std::memory_order_relaxed);
  h->xmagic.store(kMagic, std::memory_order_release);
  return std::unique_ptr<Segment>(new Segment(fd, static_cast<char*>(base), s.total, path, slot));
}

absl::Status Segment::ValidateImage(const void* base, uint64_t size) {
  if (size < sizeof(SegmentHeader))
    return absl::FailedPreconditionError(
        absl::StrFormat("segment is %d bytes, smaller than its header", size));
  const auto* h = static_cast<const SegmentHeader*>(base);
  const uint64_t magic = h->xmagic.load(std::memory_order_acquire);
  if (magic != kMagic)
    return absl::FailedPreconditionError(
        absl::StrFormat("not a shmpool segment (magic %#x)", magic));
  if (h->layout_version != kLayoutVersion)
    return absl::FailedPreconditionError(absl::StrFormat(
        "segment layout version %d, this build reads %d", h->layout_version, kLayoutVersion));
  if (h->header_bytes != sizeof(SegmentHeader) || h->class_fingerprint != ClassFingerprint())
    return absl::FailedPreconditionError("segment was made by a build with another layout");
  if (absl::Status st = CheckGeometry(h->geometry); !st.ok())
    return absl::FailedPreconditionError(absl::StrCat("segment geometry: ", st.message()));
  const Sections s = ComputeSections(h->geometry);
  if (std::memcmp(&s, &h->sections, sizeof(s)) != 0)
    return absl::FailedPreconditionError("segment section offsets do not match its geometry");
  if (s.total != size)
    return absl::FailedPreconditionError(
        absl::StrFormat("segment is %d bytes, its geometry needs %d", size, s.total));
  const uint32_t frontier = h->heap.frontier;
  if (frontier > s.pages || h->heap.backed_frontier > s.pages)
    return absl::FailedPreconditionError("segment page-heap frontier is out of range");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open segment", path);
  return FromFd(fd, path);
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::FromFd(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status s = ErrnoStatus("cannot stat segment", path);
    close(fd);
    return s;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kPageSize) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("%s is %d bytes: too small to be a segment", path, size));
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    absl::Status s = ErrnoStatus("cannot map segment", path);
    close(fd);
    return s;
  }
  const int slot = RegisterMapping(base, size);
  if (absl::Status v = ValidateImage(base, size); !v.ok()) {
    UnregisterMapping(slot);
    munmap(base, size);
    close(fd);
    return absl::Status(v.code(), absl::StrCat(path, ": ", v.message()));
  }
  return std::unique_ptr<Segment>(new Segment(fd, static_cast<char*>(base), size, path, slot));
}

bool Segment::Faulted() const { return MappingFaulted(guard_slot_); }

bool Segment::Back(uint64_t offset, uint64_t len) const {
  int rc;
  do {
    rc = fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
  } while (rc != 0 && errno == EINTR);
  return rc == 0;
}

bool Segment::PunchHole(uint64_t offset, uint64_t len) const {
  return fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                   static_cast<off_t>(len)) == 0;
}

uint64_t Segment::ResidentBytes() const {
  struct stat st;
  if (fstat(fd_, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace shmpool::shm
