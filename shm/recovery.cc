#include "shm/recovery.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "shm/atomics.h"
#include "shm/pool.h"
#include "shm/proc_identity.h"
#include "shm/slab_layer.h"

namespace shmpool::shm {
namespace {

bool IsRingOp(uint32_t op, bool push) {
  return push ? (op == Transit::kToRing || op == Transit::kToRingClaimed)
              : (op == Transit::kFromRing || op == Transit::kFromRingClaimed);
}

// Who else names ring position `pos` of class `cls` for a push or pop: a cache of a live
// process (its step will finish by itself) or of another dead process.
struct Claimants {
  bool live = false;
  bool other_dead_claimed = false;  // another dead cache past its CAS on this position
  uint32_t first_dead = ~0u;        // lowest dead cache index naming the position
};

Claimants FindClaimants(const Segment& seg, uint32_t cls, uint64_t pos, bool push, uint32_t self) {
  Claimants out;
  const uint32_t n = seg.geometry().max_thread_caches;
  for (uint32_t t = 0; t < n; ++t) {
    const uint32_t owner = LoadAcquire(seg.cache_owner(t));
    if (owner <= kCacheFree) continue;
    const Transit& tr = seg.cache(t).transit;
    const uint32_t op = LoadRelaxed(tr.xop);
    if (!IsRingOp(op, push) || LoadRelaxed(tr.xcls) != cls || LoadRelaxed(tr.xpos) != pos + 1)
      continue;
    const uint32_t proc = owner - 2;
    const bool dead =
        LoadAcquire(seg.proc(proc).xstate) != ProcRecord::kLive || ProcessIsDead(seg, proc);
    if (!dead) {
      out.live = true;
    } else {
      if (t != self && (op == Transit::kToRingClaimed || op == Transit::kFromRingClaimed))
        out.other_dead_claimed = true;
      if (t < out.first_dead) out.first_dead = t;
    }
  }
  return out;
}

// A dead cache's ring step. Returns the chain (if any) that must go back to the slabs, or
// Unavailable when a live process still names the same cell.
absl::StatusOr<uint64_t> FinishRingStep(const Segment& seg, uint32_t self, const Transit& t,
                                        ReclaimReport& report) {
  const uint32_t op = LoadRelaxed(t.xop);
  const uint32_t cls = LoadRelaxed(t.xcls);
  const uint64_t xpos = LoadRelaxed(t.xpos);
  const uint64_t batch = LoadRelaxed(t.xbatch);
  if (cls == 0 || cls >= kNumClasses) return uint64_t{0};
  const bool push = op == Transit::kToRing || op == Transit::kToRingClaimed;
  if (xpos == 0) return push ? batch : uint64_t{0};  // never reached a position
  const uint64_t pos = xpos - 1;
  ClassCentral& c = seg.central(cls);
  const uint64_t slots = seg.geometry().ring_slots;
  RingCell& cell = seg.ring(cls)[pos & (slots - 1)];
  const uint64_t seq = LoadAcquire(cell.xseq);
  if (push) {
    const bool stuck = seq == pos && LoadAcquire(c.xenq) > pos;  // claimed, not published
    bool ours = op == Transit::kToRingClaimed;
    if (!ours && stuck) {
      // Killed between the CAS and the op store? Only if nobody else can own the cell.
      const Claimants who = FindClaimants(seg, cls, pos, true, self);
      if (who.live) return absl::UnavailableError("a live process is pushing to the same cell");
      // A live claimant may have published and ended its step between the first read and
      // the scan: then the cell was its, and publishing over it would lose its batch.
      if (LoadAcquire(cell.xseq) != pos) return batch;
      ours = !who.other_dead_claimed && who.first_dead == self;
    }
    if (!ours) return batch;  // not in the ring: it goes to the slabs
    if (stuck) {
      StoreRelaxed(cell.xbatch, batch);
      StoreRelease(cell.xseq, pos + 1);
      ++report.batches_published;
    }
    return uint64_t{0};  // the batch is in the ring
  }
  const bool stuck = seq == pos + 1 && LoadAcquire(c.xdeq) > pos;  // claimed, not released
  bool ours = op == Transit::kFromRingClaimed;
  if (!ours && stuck) {
    const Claimants who = FindClaimants(seg, cls, pos, false, self);
    if (who.live) return absl::UnavailableError("a live process is popping the same cell");
    // Likewise: a live claimant released the cell (and took its batch) before the scan.
    if (LoadAcquire(cell.xseq) != pos + 1) return uint64_t{0};
    ours = !who.other_dead_claimed && who.first_dead == self;
  }
  if (!ours) return uint64_t{0};
  if (stuck) {
    const uint64_t b = LoadRelaxed(cell.xbatch);
    StoreRelease(cell.xseq, pos + slots);
    ++report.cells_released;
    return b;
  }
  return batch;  // released already: xbatch names what was popped
}

}  // namespace

bool ProcessIsDead(const Segment& seg, uint32_t index) {
  const ProcRecord& rec = seg.proc(index);
  if (LoadAcquire(rec.xstate) != ProcRecord::kLive) return false;
  return !ProcIdentity{rec.pid, rec.start_time}.Alive();
}

absl::StatusOr<ReclaimReport> ReclaimProcess(const Segment& seg, uint32_t index) {
  if (index >= seg.geometry().max_procs)
    return absl::InvalidArgumentError(absl::StrFormat("no process record %d", index));
  ProcRecord& rec = seg.proc(index);
  const uint32_t state = LoadAcquire(rec.xstate);
  if (state != ProcRecord::kLive && state != ProcRecord::kDead)
    return absl::FailedPreconditionError(
        absl::StrFormat("process record %d is not attached (state %d)", index, state));
  StoreRelease(rec.xstate, uint32_t{ProcRecord::kDead});  // idempotent: a retry resumes

  ReclaimReport report;
  const uint32_t me = CacheOwnerOf(index);
  for (uint32_t t = 0; t < seg.geometry().max_thread_caches; ++t) {
    if (LoadAcquire(seg.cache_owner(t)) != me) continue;
    ThreadCache& tc = seg.cache(t);
    Transit& tr = tc.transit;
    const uint32_t op = LoadRelaxed(tr.xop);
    const uint32_t tcls = LoadRelaxed(tr.xcls);
    // 1. A ring step is finished lock-free; what it leaves over is ours alone. A slab step
    //    is read under its class mutex by ReclaimChains (a repair may have finished it).
    uint64_t orphan = 0;
    if (IsRingOp(op, true) || IsRingOp(op, false)) {
      absl::StatusOr<uint64_t> r = FinishRingStep(seg, t, tr, report);
      if (!r.ok()) return r.status();
      orphan = *r;
      StoreRelaxed(tr.xop, static_cast<uint32_t>(Transit::kNone));
    }
    // 2. Each class's chains under one hold of its mutex; equal heads count once.
    for (uint32_t c = 1; c < kNumClasses; ++c) {
      Bin& bin = tc.bins[c];
      BinCold& cold = tc.cold[c];
      const uint64_t list = LoadRelaxed(bin.xlist);
      const uint64_t spare = LoadRelaxed(cold.xspare);
      const bool transit_here = c == tcls && op != Transit::kNone;
      if (!list && !spare && !transit_here) continue;
      uint32_t count = 0;
      for (uint64_t b = list; b && count <= Class(c).batch; b = seg.block(b).next) ++count;
      BumpOwned(cold.xdrained, uint64_t{count});  // count recounted: Bin's invariant holds
      StoreRelaxed(bin.xcount, 0u);
      StoreRelaxed(bin.xlist, uint64_t{0});
      StoreRelaxed(cold.xspare, uint64_t{0});
      std::vector<uint64_t> chains = {list, spare};
      if (c == tcls) chains.push_back(orphan);
      report.blocks_returned += ReclaimChains(seg, c, tr, std::move(chains));
    }
    StoreRelaxed(tr.xop, static_cast<uint32_t>(Transit::kNone));
    StoreRelaxed(tr.xbatch, uint64_t{0});
    StoreRelaxed(tr.xpos, uint64_t{0});
    StoreRelease(seg.cache_owner(t), kCacheFree);
    ++report.caches;
  }
  // 3. Its caches in every object pool go back whole (pool.h).
  report.pool_objects_returned = ReclaimPoolCaches(seg, index);
  FetchAddRelaxed(seg.header().counters.xreclaimed_procs, uint64_t{1});
  StoreRelease(rec.xstate, uint32_t{ProcRecord::kFree});
  return report;
}

}  // namespace shmpool::shm
