// Workload (d) without an allocator: the limit. A fixed pool of buffers (as many as the
// forward ring has slots, so as many as the allocator runs can have in flight) lives in a
// shared region; A takes a buffer's offset from a second ring that B fills with the
// offsets it is done with. Two ring transfers per buffer and no allocator work.
//
// Buffers are spaced size + 64 bytes apart (as DPDK's mempool pads its objects): with a
// 2 KiB stride the first lines of 1024 buffers would fall into a few cache sets, and the
// limit would measure set conflicts, not the transfer.
#pragma once

#include <cstdint>

#include "bench/src/shared_region.h"
#include "bench/src/xproc_harness.h"

namespace shmpool::bench {

class LimitXproc {
 public:
  static constexpr uint64_t kBuffers = SpscRing::kSlots;
  static constexpr uint64_t kPad = 64;
  LimitXproc(uint32_t size, XprocControl& ctl) : ctl_(ctl), pool_(kBuffers * (size + kPad)) {
    for (uint64_t i = 0; i < kBuffers; ++i) ctl.back.Push(i * (size + kPad));
  }

  class Producer {
   public:
    explicit Producer(LimitXproc& x) : x_(x) {}
    void* Get(uint64_t* ref) {
      *ref = x_.ctl_.back.Pop();
      return x_.pool_.data() + *ref;
    }

   private:
    LimitXproc& x_;
  };

  class Consumer {
   public:
    explicit Consumer(LimitXproc& x) : x_(x) {}
    void* Ptr(uint64_t ref) { return x_.pool_.data() + ref; }
    void Put(void*, uint64_t ref) { x_.ctl_.back.Push(ref); }

   private:
    LimitXproc& x_;
  };

 private:
  XprocControl& ctl_;
  SharedRegion pool_;
};

}  // namespace shmpool::bench
