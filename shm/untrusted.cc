#include "shm/untrusted.h"

namespace shmpool::shm {
namespace {

// The calling thread's innermost scope: whether one is live, and its lock deadline.
thread_local bool tl_active = false;
thread_local std::chrono::milliseconds tl_deadline{0};

}  // namespace

SegmentFault MakeBusFault(const std::string& path) {
  return SegmentFault(SegmentFault::Kind::kBusError,
                      "SIGBUS in the mapping of " + path + ": its file was truncated");
}

UntrustedScope::UntrustedScope(std::chrono::milliseconds lock_deadline)
    : saved_deadline_(tl_deadline), saved_active_(tl_active) {
  tl_active = true;
  tl_deadline = lock_deadline;
}

UntrustedScope::~UntrustedScope() {
  tl_active = saved_active_;
  tl_deadline = saved_deadline_;
}

bool UntrustedScope::Active() { return tl_active; }

std::chrono::milliseconds UntrustedScope::LockDeadline() { return tl_deadline; }

}  // namespace shmpool::shm
