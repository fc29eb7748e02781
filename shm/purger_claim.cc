#include "shm/purger_claim.h"

#include "shm/atomics.h"
#include "shm/recovery.h"

namespace shmpool::shm {

PurgerClaim::PurgerClaim(const Segment& seg) {
  const absl::StatusOr<uint64_t> me = PurgerOwnerOfSelf();
  if (!me.ok()) return;
  for (PurgerRecord& rec : seg.header().purgers) {
    uint64_t free = 0;
    if (LoadRelaxed(rec.xowner) == 0 && CasStrongAcqRel(rec.xowner, free, *me)) {
      rec_ = &rec;
      return;
    }
  }
}

PurgerClaim::~PurgerClaim() {
  if (rec_ != nullptr && LoadAcquire(rec_->transit.xop) == Transit::kNone)
    StoreRelease(rec_->xowner, uint64_t{0});
}

}  // namespace shmpool::shm
