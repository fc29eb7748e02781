#include "server/core/segment_guard.h"

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace shmpool::server {

const char* FaultKindName(shm::SegmentFault::Kind kind) {
  switch (kind) {
    case shm::SegmentFault::Kind::kCorrupt:
      return "corrupt";
    case shm::SegmentFault::Kind::kLockTimeout:
      return "lock_timeout";
    case shm::SegmentFault::Kind::kBusError:
      return "bus_error";
  }
  return "corrupt";
}

absl::Status QuarantinedError(absl::string_view id, const QuarantineReason& q) {
  return absl::FailedPreconditionError(absl::StrFormat(
      "arena \"%s\" is quarantined (%s since %s): %s; reset or delete it", id,
      FaultKindName(q.kind), absl::FormatTime(absl::RFC3339_sec, q.since, absl::UTCTimeZone()),
      q.message));
}

std::optional<QuarantineReason> RunUntrusted(const shm::Segment& seg,
                                             std::chrono::milliseconds lock_deadline,
                                             absl::FunctionRef<void()> op) {
  try {
    shm::UntrustedScope scope(lock_deadline);
    op();
  } catch (const shm::SegmentFault& f) {
    return QuarantineReason{f.kind(), f.what(), absl::Now()};
  }
  if (seg.Faulted()) {
    const shm::SegmentFault f = shm::MakeBusFault(seg.path());
    return QuarantineReason{f.kind(), f.what(), absl::Now()};
  }
  return std::nullopt;
}

}  // namespace shmpool::server
