// Boost.Interprocess under benchmark: a managed_shared_memory segment (the default
// rbtree_best_fit algorithm behind one process-shared mutex), allocate() and deallocate().
//
// BoostShmName picks a unique shm_open name and removes the object when the creating
// process is done with it; other processes open it with open_only (their own mapping).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "boost/interprocess/managed_shared_memory.hpp"

namespace shmpool::bench {

class BoostShmName {
 public:
  BoostShmName();
  ~BoostShmName();
  BoostShmName(const BoostShmName&) = delete;
  BoostShmName& operator=(const BoostShmName&) = delete;
  const char* c_str() const { return name_.c_str(); }

 private:
  std::string name_;
  pid_t creator_;
};

class BoostBackend {
 public:
  explicit BoostBackend(uint64_t capacity);

  void* Allocate(size_t n) { return segment_.allocate(n); }
  void Free(void* p) { segment_.deallocate(p); }
  bool Owns(const void* p) const { return segment_.belongs_to_segment(p); }

 private:
  BoostShmName name_;
  boost::interprocess::managed_shared_memory segment_;
};

}  // namespace shmpool::bench
