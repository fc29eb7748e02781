// Workload (d) over shmpool: A allocates from its Heap, B frees into its own Heap. Blocks
// freed in B collect in B's thread cache and go back to A in batches through the size
// class's transfer ring in the segment (shm/transfer_ring.h).
#pragma once

#include <cstdint>
#include <memory>

#include "bench/src/fail.h"
#include "bench/src/shmpool_backend.h"
#include "bench/src/xproc_harness.h"

namespace shmpool::bench {

class ShmpoolXproc {
 public:
  static constexpr uint64_t kCapacity = uint64_t{256} << 20;
  ShmpoolXproc(uint32_t size, XprocControl&) : size_(size), file_(kCapacity) {}

  class Producer {
   public:
    explicit Producer(ShmpoolXproc& x) : size_(x.size_), heap_(x.file_.Attach("bench-A")) {}
    void* Get(uint64_t* ref) {
      void* p = heap_->Allocate(size_);
      if (p == nullptr) Fail("shmpool: Allocate failed in A");
      *ref = heap_->RefOf(p);
      return p;
    }

   private:
    uint32_t size_;
    std::unique_ptr<shm::Heap> heap_;
  };

  class Consumer {
   public:
    explicit Consumer(ShmpoolXproc& x) : heap_(x.file_.Attach("bench-B")) {}
    void* Ptr(uint64_t ref) { return heap_->PtrOf(ref); }
    void Put(void* p, uint64_t) { heap_->Free(p); }

   private:
    std::unique_ptr<shm::Heap> heap_;
  };

 private:
  uint32_t size_;
  SegmentFile file_;
};

}  // namespace shmpool::bench
