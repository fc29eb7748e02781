#include "shm/recovery.h"

#include <signal.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/pool.h"
#include "shm/proc_identity.h"
#include "shm/reclaim.h"
#include "shm/slab_layer.h"

namespace shmpool::shm {
namespace {

using StepHook = void (*)();
constinit StepHook step_hook = nullptr;
constinit StepHook verdict_hook = nullptr;

// Marks a point between two stores that a resumed reclaim depends on (tests kill here).
inline void Step() {
  if (step_hook != nullptr) [[unlikely]]
    step_hook();
}

bool IsRingOp(uint32_t op, bool push) {
  return push ? (op == Transit::kToRing || op == Transit::kToRingClaimed)
              : (op == Transit::kFromRing || op == Transit::kFromRingClaimed);
}
bool IsSlabOp(uint32_t op) { return op == Transit::kToSlabs || op == Transit::kFromSlabs; }

// The Transit names nothing: the op store commits.
void Drop(Transit& t) {
  StoreRelease(t.xop, static_cast<uint32_t>(Transit::kNone));
  Step();
  StoreRelaxed(t.xbatch, uint64_t{0});
  StoreRelaxed(t.xpos, uint64_t{0});
  Step();
}

// The Transit carries `chain`, free blocks of `cls` wholly outside the slabs and the ring,
// on their way home; the op store commits. xpos is cleared after it (a ring step's
// position counts until the op changes) and before any ReturnBlocks reads the Transit (a
// repair pushes xpos as a block of its own).
void Carry(Transit& t, uint32_t cls, uint64_t chain) {
  StoreRelaxed(t.xcls, cls);
  Step();
  StoreRelaxed(t.xbatch, chain);
  Step();
  StoreRelease(t.xop, static_cast<uint32_t>(Transit::kToSlabs));
  Step();
  StoreRelaxed(t.xpos, uint64_t{0});
  Step();
}

// True when `b` is the start of a block of class `cls` on a live slab page.
bool IsBlockOf(const Segment& seg, uint32_t cls, uint64_t b) {
  const Sections& s = seg.sections();
  if (b < s.data || b >= s.total) return false;
  const uint64_t page = seg.page_of(b);
  if (page >= LoadRelaxed(seg.header().heap.xfrontier_pages)) return false;
  const uint64_t e = LoadRelaxed(seg.page_entry(page));
  return PageEntry::KindOf(e) == kPageSlab && PageEntry::ClassOf(e) == cls &&
         IsBlockStart(b - s.data - PageEntry::StartBytes(e), Class(cls));
}

// Readies a chain that only this reclaim names for ReturnBlocks: every block gets its free
// tag (a free() killed between its commit and its tag store leaves the head without one),
// and the chain is cut before the first link that is no block of `cls` or would make it
// longer than a batch (only a corrupted record has either; a cut also ends a cycle).
// Idempotent. Returns its length (0 when the head is no block).
uint32_t TidyChain(const Segment& seg, uint32_t cls, uint64_t head, bool* cut) {
  uint32_t n = 0;
  uint64_t prev = 0;
  for (uint64_t b = head; b != 0; b = seg.block(b).next) {
    if (n == Class(cls).batch || !IsBlockOf(seg, cls, b)) {
      if (prev != 0) seg.block(prev).next = 0;
      *cut = true;
      break;
    }
    seg.block(b).tag = seg.free_tag(b);
    prev = b;
    ++n;
  }
  return n;
}

// Takes and drops the mutex of `cls`: a holder that died inside a slab step (the dead
// process, or a reclaim of ours killed inside ReturnBlocks) is repaired by the first locker,
// which finishes the step its Transit names and clears that Transit (slab_layer.h). Giving
// back the class's wholly free slabs is all this lock does besides.
void RunOwedRepair(const Segment& seg, uint32_t cls) {
  ReleaseEmptySlabs(seg, cls);
  Step();
}

// The chain the Transit carries goes home under the class mutex, with the Transit as the
// holder's record all the while; then the Transit is cleared. `drained`: the bin counter
// to credit with the chain (a bin's list).
void ReturnCarried(const Segment& seg, uint32_t cls, Transit& t, ReclaimReport& report,
                   std::atomic<uint64_t>* drained) {
  const uint64_t chain = LoadRelaxed(t.xbatch);
  bool cut = false;
  const uint32_t n = TidyChain(seg, cls, chain, &cut);
  report.chains_cut += cut;
  if (drained != nullptr) {
    BumpOwned(*drained, uint64_t{n});
    Step();
  }
  if (n != 0) {
    ReturnBlocks(seg, cls, chain, t);
    Step();
    report.blocks_returned += n;
  }
  Drop(t);
}

// Who else names ring position `pos` of class `cls` for a push or pop: a record (thread
// cache or purger) whose owner is live (its step will finish by itself) or gone. Records
// are indexed caches first, then purgers (PurgerIndex); `self`, the record being finished,
// counts as dead.
struct Claimants {
  bool live = false;
  bool other_dead_claimed = false;  // another dead record past its CAS on this position
  uint32_t first_dead = ~0u;        // lowest dead record index naming the position
};

uint32_t PurgerIndex(const Segment& seg, uint32_t i) {
  return seg.geometry().max_thread_caches + i;
}

bool OwnerGone(uint64_t owner) {
  return ProcIdentity{PurgerRecord::PidOf(owner), PurgerRecord::StartTimeOf(owner)}.KnownGone();
}

Claimants FindClaimants(const Segment& seg, uint32_t cls, uint64_t pos, bool push, uint32_t self) {
  Claimants out;
  // `gone` runs after the Transit is read, so it can tell whether its record changed hands.
  auto consider = [&](uint32_t index, const Transit& tr, auto gone) {
    const uint32_t op = LoadAcquire(tr.xop);
    if (!IsRingOp(op, push) || LoadAcquire(tr.xcls) != cls || LoadAcquire(tr.xpos) != pos + 1)
      return;
    if (index != self && !gone()) {
      out.live = true;
      return;
    }
    if (index != self && (op == Transit::kToRingClaimed || op == Transit::kFromRingClaimed))
      out.other_dead_claimed = true;
    if (index < out.first_dead) out.first_dead = index;
  };
  const uint32_t n = seg.geometry().max_thread_caches;
  for (uint32_t t = 0; t < n; ++t) {
    const uint32_t owner = LoadAcquire(seg.cache_owner(t));
    if (owner <= kCacheFree) continue;
    consider(t, seg.cache(t).transit, [&] {
      const uint32_t proc = owner - 2;
      return seg.proc(proc).state() != ProcRecord::kLive || ProcessIsDead(seg, proc);
    });
  }
  for (uint32_t i = 0; i < kMaxPurgers; ++i) {
    const PurgerRecord& rec = seg.header().purgers[i];
    const uint64_t owner = LoadAcquire(rec.xowner);
    if (owner == 0) continue;
    // A record freed and claimed again while we read it holds a live purger's Transit: its
    // new owner stored its word before its Transit (the claim CAS comes first).
    consider(PurgerIndex(seg, i), rec.transit,
             [&] { return OwnerGone(owner) && LoadAcquire(rec.xowner) == owner; });
  }
  return out;
}

// A dead record's ring step (`self` its index, as in FindClaimants). Returns the chain (if
// any) that must go back to the slabs, or Unavailable when a live process still names the
// same cell. Resumable: the decision that a claim is the dead record's is stored (op
// Claimed) before the cell is touched, and a popped batch is stored in xbatch before its
// cell is released.
absl::StatusOr<uint64_t> FinishRingStep(const Segment& seg, uint32_t self, Transit& t,
                                        ReclaimReport& report) {
  const uint32_t op = LoadRelaxed(t.xop);
  const uint32_t cls = LoadRelaxed(t.xcls);
  const uint64_t xpos = LoadRelaxed(t.xpos);
  const uint64_t batch = LoadRelaxed(t.xbatch);
  const bool push = IsRingOp(op, true);
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
      if (ours) {
        StoreRelease(t.xop, static_cast<uint32_t>(Transit::kToRingClaimed));
        Step();
      }
    }
    if (!ours) return batch;  // not in the ring: it goes to the slabs
    if (stuck) {
      StoreRelaxed(cell.xbatch, batch);
      Step();
      StoreRelease(cell.xseq, pos + 1);
      Step();
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
    if (ours) {
      StoreRelease(t.xop, static_cast<uint32_t>(Transit::kFromRingClaimed));
      Step();
    }
  }
  if (!ours) return uint64_t{0};
  if (stuck) {
    const uint64_t b = LoadRelaxed(cell.xbatch);
    StoreRelease(t.xbatch, b);
    Step();
    StoreRelease(cell.xseq, pos + slots);
    Step();
    ++report.cells_released;
    return b;
  }
  return batch;  // released already: xbatch names what was popped
}

// Leaves the Transit `tr` of dead record `self` naming nothing, or carrying one chain
// wholly outside the slabs and the ring (Carry).
absl::Status SettleTransit(const Segment& seg, uint32_t self, Transit& tr, ReclaimReport& report) {
  const uint32_t op = LoadRelaxed(tr.xop);
  const uint32_t cls = LoadRelaxed(tr.xcls);
  if (op == Transit::kNone) return absl::OkStatus();
  if (cls == 0 || cls >= kNumClasses || op > Transit::kFromRingClaimed) {
    Drop(tr);  // no step writes such a record: a corrupted one names nothing we can trust
    return absl::OkStatus();
  }
  uint64_t chain = 0;
  if (IsSlabOp(op)) {
    // After the owed repair, a slab step still named is not under way: its chain (a chain
    // taken from the slabs, or one not yet pushed) is wholly outside them.
    RunOwedRepair(seg, cls);
    if (!IsSlabOp(LoadRelaxed(tr.xop))) return absl::OkStatus();  // the repair finished it
    chain = LoadRelaxed(tr.xbatch);
  } else {
    absl::StatusOr<uint64_t> orphan = FinishRingStep(seg, self, tr, report);
    if (!orphan.ok()) return orphan.status();
    chain = *orphan;
  }
  if (chain != 0)
    Carry(tr, cls, chain);
  else
    Drop(tr);
  return absl::OkStatus();
}

// Class `c` of a dead cache: the chain its Transit carries (if of this class), its list and
// its spare go home one at a time, each named by the record until ReturnBlocks has it.
void ReturnClass(const Segment& seg, ThreadCache& tc, uint32_t c, ReclaimReport& report) {
  SHMPOOL_CHECK(c > 0 && c < kNumClasses);  // read from the Transit, which may have changed
  Transit& tr = tc.transit;
  Bin& bin = tc.bins[c];
  BinCold& cold = tc.cold[c];
  const uint64_t list = LoadRelaxed(bin.xlist);
  uint64_t spare = LoadRelaxed(cold.xspare);
  if (LoadRelaxed(tr.xop) == Transit::kToSlabs && LoadRelaxed(tr.xcls) == c) {
    const uint64_t chain = LoadRelaxed(tr.xbatch);
    if (chain != 0 && chain != list && chain != spare)
      ReturnCarried(seg, c, tr, report, nullptr);
    else
      Drop(tr);  // the bin names the same chain (a move between the two was cut short)
  }
  if (spare != 0 && spare == list) {  // likewise between list and spare: keep the list
    StoreRelaxed(cold.xspare, uint64_t{0});
    Step();
    spare = 0;
  }
  if (list != 0) {
    Carry(tr, c, list);
    StoreRelaxed(bin.xlist, uint64_t{0});
    Step();
    bin.set_count(0);
    Step();
    ReturnCarried(seg, c, tr, report, &cold.xdrained);
  }
  if (spare != 0) {
    Carry(tr, c, spare);
    StoreRelaxed(cold.xspare, uint64_t{0});
    Step();
    ReturnCarried(seg, c, tr, report, nullptr);
  }
  if (bin.count() != 0) {  // lagged its list by one store: Bin's invariant holds
    bin.set_count(0);
    Step();
  }
}

}  // namespace

bool ReadProcRecord(const Segment& seg, uint32_t index, uint64_t* word, ProcIdentity* id) {
  const ProcRecord& rec = seg.proc(index);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const uint64_t before = LoadAcquire(rec.xword);
    *id = ProcIdentity{rec.pid, rec.start_time};
    if (verdict_hook != nullptr) verdict_hook();
    AcquireFence();  // the identity is read before
    if (LoadRelaxed(rec.xword) == before) {
      *word = before;
      return true;
    }
  }
  return false;
}

bool ProcessIsDead(const Segment& seg, uint32_t index, uint64_t* word) {
  uint64_t w = 0;
  ProcIdentity id;
  if (!ReadProcRecord(seg, index, &w, &id) || ProcRecord::StateOf(w) != ProcRecord::kLive)
    return false;
  if (!id.KnownGone()) return false;
  if (word != nullptr) *word = w;
  return true;
}

bool ReleaseAbandonedClaim(const Segment& seg, uint32_t index) {
  ProcRecord& rec = seg.proc(index);
  uint64_t word = LoadAcquire(rec.xword);
  const uint32_t state = ProcRecord::StateOf(word);
  if (!ProcRecord::IsClaim(state)) return false;
  const pid_t pid = static_cast<pid_t>(ProcRecord::ClaimantOf(state));
  // kill(pid, 0) fails with ESRCH only when no process has that pid (EPERM: one exists).
  if (pid == 0 || kill(pid, 0) == 0 || errno != ESRCH) return false;
  return CasStrongAcqRel(rec.xword, word, ProcRecord::WithState(word, ProcRecord::kFree));
}

absl::StatusOr<ReclaimReport> ReclaimProcess(const Segment& seg, uint32_t index, uint64_t word) {
  if (index >= seg.geometry().max_procs)
    return absl::InvalidArgumentError(absl::StrFormat("no process record %d", index));
  ProcRecord& rec = seg.proc(index);
  const uint32_t state = ProcRecord::StateOf(word);
  if (state != ProcRecord::kLive && state != ProcRecord::kDead)
    return absl::FailedPreconditionError(
        absl::StrFormat("process record %d is not attached (state %d)", index, state));
  // A reclaim is owed until kFree. Only from the exact word: the record may have been
  // detached and claimed again since the verdict.
  const uint64_t dead = ProcRecord::WithState(word, ProcRecord::kDead);
  uint64_t seen = word;
  if (state == ProcRecord::kLive)
    CasStrongAcqRel(rec.xword, seen, dead);
  else
    seen = LoadAcquire(rec.xword);
  if (seen != word && seen != dead)
    return absl::AbortedError(absl::StrFormat(
        "process record %d changed since the verdict (incarnation %d, now %d in state %d): "
        "not reclaimed",
        index, ProcRecord::IncarnationOf(word), ProcRecord::IncarnationOf(seen),
        ProcRecord::StateOf(seen)));
  Step();

  ReclaimReport report;
  const uint32_t me = CacheOwnerOf(index);
  const uint32_t max_caches = seg.geometry().max_thread_caches;
  uint32_t last = max_caches;  // the cache record given back after the loop
  for (uint32_t t = 0; t < max_caches; ++t) {
    if (LoadAcquire(seg.cache_owner(t)) != me) continue;
    if (absl::Status s = SettleTransit(seg, t, seg.cache(t).transit, report); !s.ok()) return s;
    ThreadCache& tc = seg.cache(t);
    // The class whose chain the Transit carries goes first: the Transit carries one chain.
    if (LoadRelaxed(tc.transit.xop) == Transit::kToSlabs)
      ReturnClass(seg, tc, LoadRelaxed(tc.transit.xcls), report);
    for (uint32_t c = 1; c < kNumClasses; ++c) ReturnClass(seg, tc, c, report);
    if (last < max_caches) {
      StoreRelease(seg.cache_owner(last), kCacheFree);  // empty: nothing left to find in it
      Step();
    }
    last = t;
    ++report.caches;
  }
  if (last < max_caches) {  // the last-out drain names its steps in this record (reclaim.h)
    DrainIfLastOut(seg, index, seg.cache(last).transit);
    StoreRelease(seg.cache_owner(last), kCacheFree);
    Step();
  }
  // Its caches in every object pool go back whole (pool.h).
  report.pool_objects_returned = ReclaimPoolCaches(seg, index);
  Step();
  FetchAddRelaxed(seg.header().counters.xreclaimed_procs, uint64_t{1});
  Step();
  StoreRelease(rec.xword, ProcRecord::WithState(word, ProcRecord::kFree));
  return report;
}

absl::StatusOr<uint64_t> PurgerOwnerOfSelf() {
  const absl::StatusOr<ProcIdentity> self = ProcIdentity::Self();
  if (!self.ok()) return self.status();
  const uint64_t owner = PurgerRecord::Owner(self->pid, self->start_time);
  if (PurgerRecord::PidOf(owner) != self->pid ||
      PurgerRecord::StartTimeOf(owner) != self->start_time)
    return absl::OutOfRangeError(absl::StrFormat(
        "pid %d with start time %d does not fit a purger record", self->pid, self->start_time));
  return owner;
}

absl::StatusOr<uint32_t> ReclaimDeadPurgers(const Segment& seg) {
  const absl::StatusOr<uint64_t> me = PurgerOwnerOfSelf();
  if (!me.ok()) return me.status();
  uint32_t freed = 0;
  absl::Status owed = absl::OkStatus();
  for (uint32_t i = 0; i < kMaxPurgers; ++i) {
    PurgerRecord& rec = seg.header().purgers[i];
    uint64_t owner = LoadAcquire(rec.xowner);
    if (owner == 0 || !OwnerGone(owner)) continue;
    const uint64_t dead = owner;
    if (!CasStrongAcqRel(rec.xowner, owner, *me)) continue;  // freed or taken over meanwhile
    Step();
    ReclaimReport report;
    if (absl::Status s = SettleTransit(seg, PurgerIndex(seg, i), rec.transit, report); !s.ok()) {
      StoreRelease(rec.xowner, dead);  // still owed: the next call takes it over again
      owed = s;
      continue;
    }
    if (LoadRelaxed(rec.transit.xop) == Transit::kToSlabs)
      ReturnCarried(seg, LoadRelaxed(rec.transit.xcls), rec.transit, report, nullptr);
    StoreRelease(rec.xowner, uint64_t{0});
    Step();
    ++freed;
  }
  if (!owed.ok()) return owed;
  return freed;
}

void SetReclaimStepHookForTesting(void (*hook)()) { step_hook = hook; }
void SetVerdictHookForTesting(void (*hook)()) { verdict_hook = hook; }

}  // namespace shmpool::shm
