#include "shm/transfer_ring.h"

#include <algorithm>

#include "shm/atomics.h"
#include "shm/check.h"

namespace shmpool::shm {
namespace {

using RingHook = void (*)(bool push, RingPoint point);
constinit RingHook ring_hook = nullptr;

inline void Point(bool push, RingPoint point) {
  if (ring_hook != nullptr) [[unlikely]]
    ring_hook(push, point);
}

}  // namespace

bool RingPush(const Segment& seg, uint32_t cls, uint64_t batch, Transit& transit) {
  ClassCentral& c = seg.central(cls);
  RingCell* cells = seg.ring(cls);
  const uint64_t mask = seg.geometry().ring_slots - 1;
  uint64_t pos = LoadRelaxed(c.xenq);
  // The byte budget (racy by design: it bounds what the ring hoards, not its correctness).
  if (pos - std::min(pos, LoadRelaxed(c.xdeq)) >= RingBatchLimit(seg, cls)) return false;
  RingCell* cell;
  for (uint64_t spins = 0;; ++spins) {
    SHMPOOL_CHECK(spins < kSpinLimit);
    cell = &cells[pos & mask];
    const uint64_t seq = LoadAcquire(cell->xseq);
    const int64_t dif = static_cast<int64_t>(seq - pos);
    if (dif == 0) {
      StoreRelaxed(transit.xpos, pos + 1);
      Point(true, RingPoint::kPositionStored);
      if (CasAcqRel(c.xenq, pos, pos + 1)) break;
    } else if (dif < 0) {
      return false;  // full
    } else {
      pos = LoadRelaxed(c.xenq);
    }
  }
  Point(true, RingPoint::kClaimed);
  StoreRelaxed(transit.xop, static_cast<uint32_t>(Transit::kToRingClaimed));
  Point(true, RingPoint::kRecorded);
  StoreRelaxed(cell->xbatch, batch);
  StoreRelease(cell->xseq, pos + 1);
  Point(true, RingPoint::kDone);
  return true;
}

uint64_t RingPop(const Segment& seg, uint32_t cls, Transit& transit) {
  ClassCentral& c = seg.central(cls);
  RingCell* cells = seg.ring(cls);
  const uint64_t slots = seg.geometry().ring_slots;
  uint64_t pos = LoadRelaxed(c.xdeq);
  RingCell* cell;
  for (uint64_t spins = 0;; ++spins) {
    SHMPOOL_CHECK(spins < kSpinLimit);
    cell = &cells[pos & (slots - 1)];
    const uint64_t seq = LoadAcquire(cell->xseq);
    const int64_t dif = static_cast<int64_t>(seq - (pos + 1));
    if (dif == 0) {
      StoreRelaxed(transit.xpos, pos + 1);
      Point(false, RingPoint::kPositionStored);
      if (CasAcqRel(c.xdeq, pos, pos + 1)) break;
    } else if (dif < 0) {
      return 0;  // empty
    } else {
      pos = LoadRelaxed(c.xdeq);
    }
  }
  Point(false, RingPoint::kClaimed);
  StoreRelaxed(transit.xop, static_cast<uint32_t>(Transit::kFromRingClaimed));
  const uint64_t batch = LoadRelaxed(cell->xbatch);
  // The caller installs the batch in its bin and then clears the Transit; until then the
  // Transit names the batch, so a crash here leaves it findable.
  StoreRelaxed(transit.xbatch, batch);
  Point(false, RingPoint::kRecorded);
  StoreRelease(cell->xseq, pos + slots);
  Point(false, RingPoint::kDone);
  return batch;
}

uint64_t RingBatchLimit(const Segment& seg, uint32_t cls) {
  const uint64_t batch_bytes = uint64_t{Class(cls).batch} * Class(cls).size;
  return std::clamp<uint64_t>(kRingBytesPerClass / batch_bytes, 2, seg.geometry().ring_slots);
}

uint64_t RingDepth(const Segment& seg, uint32_t cls) {
  ClassCentral& c = seg.central(cls);
  const uint64_t enq = LoadRelaxed(c.xenq), deq = LoadRelaxed(c.xdeq);
  return enq > deq ? std::min<uint64_t>(enq - deq, seg.geometry().ring_slots) : 0;
}

void SetRingHookForTesting(void (*hook)(bool push, RingPoint point)) { ring_hook = hook; }

}  // namespace shmpool::shm
