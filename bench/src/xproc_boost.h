// Workload (d) over Boost.Interprocess, two peers on one managed_shared_memory segment
// that A and B each open with open_only (their own mappings; offsets are handles from
// get_handle_from_address):
//   BoostMsmXproc:    segment.allocate(size) in A, segment.deallocate(p) in B: one
//                     process-shared mutex and the best-fit tree for every operation.
//   BoostCnaXproc<S>: cached_node_allocator of S-byte nodes. Each process's allocator
//                     object keeps a private cache of up to 64 nodes and moves nodes to
//                     and from the node pool shared in the segment (found by name, behind
//                     a process-shared mutex) 32 at a time; so A's allocations and B's
//                     frees meet in the shared pool, in batches.
#pragma once

#include <cstdint>

#include "bench/src/boost_backend.h"
#include "bench/src/fail.h"
#include "bench/src/xproc_harness.h"
#include "boost/interprocess/allocators/cached_node_allocator.hpp"
#include "boost/interprocess/managed_shared_memory.hpp"

namespace shmpool::bench {

namespace bip = boost::interprocess;

// Creates the segment in the parent before the fork and removes it at the end.
class BoostXprocSegment {
 public:
  static constexpr uint64_t kCapacity = uint64_t{64} << 20;
  BoostXprocSegment() : creator_(bip::create_only, name_.c_str(), kCapacity) {}
  bip::managed_shared_memory Open() const {
    return bip::managed_shared_memory(bip::open_only, name_.c_str());
  }

 private:
  BoostShmName name_;
  bip::managed_shared_memory creator_;
};

class BoostMsmXproc {
 public:
  BoostMsmXproc(uint32_t size, XprocControl&) : size_(size) {}

  class Producer {
   public:
    explicit Producer(BoostMsmXproc& x) : size_(x.size_), seg_(x.segment_.Open()) {}
    void* Get(uint64_t* ref) {
      void* p = seg_.allocate(size_);
      *ref = static_cast<uint64_t>(seg_.get_handle_from_address(p));
      return p;
    }

   private:
    uint32_t size_;
    bip::managed_shared_memory seg_;
  };

  class Consumer {
   public:
    explicit Consumer(BoostMsmXproc& x) : seg_(x.segment_.Open()) {}
    void* Ptr(uint64_t ref) {
      return seg_.get_address_from_handle(static_cast<bip::managed_shared_memory::handle_t>(ref));
    }
    void Put(void* p, uint64_t) { seg_.deallocate(p); }

   private:
    bip::managed_shared_memory seg_;
  };

 private:
  uint32_t size_;
  BoostXprocSegment segment_;
};

template <uint32_t kSize>
class BoostCnaXproc {
 public:
  struct Node {
    char bytes[kSize];
  };
  using Allocator = bip::cached_node_allocator<Node, bip::managed_shared_memory::segment_manager>;

  BoostCnaXproc(uint32_t size, XprocControl&) {
    if (size != kSize) Fail("BoostCnaXproc: wrong node size");
  }

  // One process's side: its mapping and its allocator (with its private cache).
  class Side {
   public:
    explicit Side(BoostCnaXproc& x) : seg_(x.segment_.Open()), alloc_(seg_.get_segment_manager()) {}
    void* Get(uint64_t* ref) {
      Node* p = alloc_.allocate(1).get();
      *ref = static_cast<uint64_t>(seg_.get_handle_from_address(p));
      return p;
    }
    void* Ptr(uint64_t ref) {
      return seg_.get_address_from_handle(static_cast<bip::managed_shared_memory::handle_t>(ref));
    }
    void Put(void* p, uint64_t) { alloc_.deallocate(static_cast<Node*>(p), 1); }

   private:
    bip::managed_shared_memory seg_;
    Allocator alloc_;  // destroyed first: returns its cache to the pool while mapped
  };
  using Producer = Side;
  using Consumer = Side;

 private:
  BoostXprocSegment segment_;
};

}  // namespace shmpool::bench
