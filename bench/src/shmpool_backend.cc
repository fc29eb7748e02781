// Creating, attaching and removing the benchmark's shmpool segment (see shmpool_backend.h).
#include "bench/src/shmpool_backend.h"

#include <stdlib.h>
#include <unistd.h>

#include "bench/src/fail.h"

namespace shmpool::bench {

SegmentFile::SegmentFile(uint64_t capacity) : creator_(getpid()) {
  char tmpl[] = "/dev/shm/shmpool-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp under /dev/shm failed");
  dir_ = tmpl;
  path_ = dir_ + "/arena.seg";
  auto segment = shm::Segment::Create(path_, shm::Geometry{.capacity = capacity});
  if (!segment.ok()) Fail("Segment::Create: " + segment.status().ToString());
}

SegmentFile::~SegmentFile() {
  if (getpid() != creator_) return;
  unlink(path_.c_str());
  rmdir(dir_.c_str());
}

std::unique_ptr<shm::Heap> SegmentFile::Attach(const std::string& name) const {
  auto segment = shm::Segment::Open(path_);
  if (!segment.ok()) Fail("Segment::Open: " + segment.status().ToString());
  auto heap = shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*segment)),
                                shm::AttachOptions{.name = name});
  if (!heap.ok()) Fail("Heap::Attach: " + heap.status().ToString());
  return std::move(*heap);
}

bool ShmpoolBackend::Owns(const void* p) const {
  const char* base = heap_->segment().base();
  const char* c = static_cast<const char*>(p);
  return c >= base && c < base + heap_->segment().sections().total;
}

}  // namespace shmpool::bench
