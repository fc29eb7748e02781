// shmpool under benchmark: a segment file in a private directory under /dev/shm, and one
// process's Heap on it. Allocate and Free are shm::Heap's inline fast paths, called
// exactly as an application calls them.
//
// SegmentFile creates the file and removes it (and its directory) when the process that
// created it destroys it; a forked process maps the same file with its own Attach().
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shm/heap.h"

namespace shmpool::bench {

class SegmentFile {
 public:
  explicit SegmentFile(uint64_t capacity);
  ~SegmentFile();
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  const std::string& path() const { return path_; }
  // Opens the file with a new mapping and attaches this process (fails loudly).
  std::unique_ptr<shm::Heap> Attach(const std::string& name) const;

 private:
  std::string dir_, path_;
  pid_t creator_;
};

class ShmpoolBackend {
 public:
  explicit ShmpoolBackend(uint64_t capacity) : file_(capacity), heap_(file_.Attach("bench")) {}

  void* Allocate(size_t n) { return heap_->Allocate(n); }
  void Free(void* p) { heap_->Free(p); }
  // True when p lies in the segment's mapping: the block really came from shmpool.
  bool Owns(const void* p) const;
  const std::string& path() const { return file_.path(); }

 private:
  SegmentFile file_;
  std::unique_ptr<shm::Heap> heap_;
};

}  // namespace shmpool::bench
