// A client process that dies: forked, it attaches to a segment file, allocates and frees by
// a plan, reports what it still holds through a pipe and ends with _exit, without detaching
// (its thread cache, its batches and its process record stay in the segment, as after a
// kill -9 between two calls). Then the reclaim the daemon runs: ProcessIsDead must judge
// the record dead, and ReclaimProcess give back what it held, either in one go or after a
// first reclaimer (forked too) died after its `interrupt_at`-th step (recovery.h's hook).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shm/segment.h"

namespace shmpool::fuzz {

struct DeadPlan {
  enum Kind { kAlloc, kFreeOwn, kFreeOther };
  struct Op {
    Kind kind = kAlloc;
    uint64_t arg = 0;   // kAlloc: bytes; kFreeOwn: which held block (modulo); kFreeOther:
                        // the offset of a live block of another process
    uint64_t seed = 0;  // kAlloc: the pattern of its block (alloc_model.h)
  };
  std::vector<Op> ops;
};

struct DeadReport {
  struct Block {
    uint64_t off = 0;
    uint64_t size = 0;
    uint64_t seed = 0;
  };
  uint32_t proc_index = 0;
  std::vector<Block> held;  // allocated by the dead process and never freed
  uint64_t allocs = 0;      // mallocs that gave a block (held ones included)
  uint64_t requested = 0;   // their bytes
  uint64_t failed_allocs = 0;
};

// Runs `plan` in a child attached to `path` and waits for it to die. An error when the
// child could not attach or report.
absl::StatusOr<DeadReport> RunDeadProcess(const std::string& path, const DeadPlan& plan);

// Reclaims process record `index` of `seg`, whose process is dead, as the daemon's
// reclaimer does; `interrupt_at` > 0: a forked reclaimer dies after that many steps first
// and this one resumes. An error when the verdict or the reclaim disagrees with that.
absl::Status ReclaimDead(const shm::Segment& seg, uint32_t index, uint32_t interrupt_at);

}  // namespace shmpool::fuzz
