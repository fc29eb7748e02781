// ArenaRegistry, quarantine: the wrapper every daemon operation over a tenant's segment
// runs through, the quarantine it ends in, its probe for lock timeouts, and the validation
// of a segment adopted at start-up (arena_registry.h has the state's contract).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/core/arena_registry.h"
#include "server/core/log.h"
#include "shm/atomics.h"
#include "shm/purge.h"
#include "shm/validate.h"

namespace shmpool::server {
namespace {

// The probe of a lock-timeout quarantine waits this long for each lock.
constexpr std::chrono::milliseconds kProbeDeadline{10};
// Errors of a failed validation quoted in the quarantine's reason.
constexpr size_t kQuotedErrors = 3;

}  // namespace

absl::Status ArenaRegistry::WithSegment(const ArenaRecord& arena,
                                        absl::FunctionRef<void(const shm::Segment&)> op,
                                        std::optional<std::chrono::milliseconds> deadline) {
  if (arena.quarantine) return QuarantinedError(arena.spec.id, *arena.quarantine);
  {
    // Another operation may have quarantined the arena since `arena` was read.
    absl::MutexLock lock(&mu_);
    auto it = arenas_.find(arena.spec.id);
    if (it != arenas_.end() && it->second->generation == arena.generation && it->second->quarantine)
      return QuarantinedError(arena.spec.id, *it->second->quarantine);
  }
  const shm::Segment& seg = *arena.segment;
  std::optional<QuarantineReason> fault =
      RunUntrusted(seg, deadline.value_or(lock_deadline()), [&] { op(seg); });
  if (!fault) return absl::OkStatus();
  Quarantine(arena, *fault);
  return QuarantinedError(arena.spec.id, *fault);
}

void ArenaRegistry::Quarantine(const ArenaRecord& arena, const QuarantineReason& why) {
  absl::MutexLock lock(&mu_);
  QuarantineLocked(arena, why);
}

void ArenaRegistry::QuarantineLocked(const ArenaRecord& arena, const QuarantineReason& why) {
  auto it = arenas_.find(arena.spec.id);
  if (it == arenas_.end() || it->second->generation != arena.generation || it->second->quarantine)
    return;
  auto rec = std::make_shared<ArenaRecord>(*it->second);
  rec->quarantine = std::make_shared<const QuarantineReason>(why);
  it->second = std::move(rec);  // `arena` may be the record replaced here: not read below
  LogWarning("arena_quarantined")
      .Kv("arena", it->first)
      .Kv("kind", FaultKindName(why.kind))
      .Kv("reason", why.message)
      .Kv("note", "its RPCs fail until it is reset or deleted");
}

int ArenaRegistry::ProbeLocked() {
  int lifted = 0;
  for (const ArenaPtr& a : List()) {
    if (!a->quarantine || a->quarantine->kind != shm::SegmentFault::Kind::kLockTimeout) continue;
    std::optional<QuarantineReason> fault =
        RunUntrusted(*a->segment, kProbeDeadline, [&] { shm::Purge(*a->segment); });
    if (fault && fault->kind == shm::SegmentFault::Kind::kLockTimeout) continue;
    absl::MutexLock lock(&mu_);
    auto it = arenas_.find(a->spec.id);
    if (it == arenas_.end() || it->second != a) continue;
    auto rec = std::make_shared<ArenaRecord>(*a);
    rec->quarantine = fault ? std::make_shared<const QuarantineReason>(*fault) : nullptr;
    it->second = std::move(rec);
    if (fault) {
      LogWarning("arena_quarantined")
          .Kv("arena", a->spec.id)
          .Kv("kind", FaultKindName(fault->kind))
          .Kv("reason", fault->message);
    } else {
      LogInfo("arena_quarantine_lifted").Kv("arena", a->spec.id).Kv("was", "lock_timeout");
      ++lifted;
    }
  }
  return lifted;
}

std::optional<QuarantineReason> RestoreTruncated(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::optional<QuarantineReason> out;
  struct stat st {};
  alignas(shm::SegmentHeader) char header[sizeof(shm::SegmentHeader)];
  const auto* h = reinterpret_cast<const shm::SegmentHeader*>(header);
  if (fstat(fd, &st) == 0 && pread(fd, header, sizeof header, 0) == sizeof header &&
      static_cast<uint64_t>(st.st_size) < h->sections.total &&
      shm::Segment::ValidateImage(header, h->sections.total).ok() &&
      ftruncate(fd, static_cast<off_t>(h->sections.total)) == 0)
    out = QuarantineReason{shm::SegmentFault::Kind::kBusError,
                           absl::StrFormat("%s was cut short to %d bytes (its geometry needs %d); "
                                           "restored with zero pages past the cut at adoption",
                                           path, st.st_size, h->sections.total),
                           absl::Now()};
  close(fd);
  return out;
}

void ArenaRegistry::AdmitAdopted(ArenaRecord* rec,
                                 const std::optional<QuarantineReason>& truncated) const {
  const shm::Segment& seg = *rec->segment;
  shm::ValidationReport report;
  uint32_t live = 0;
  std::optional<QuarantineReason> fault = RunUntrusted(seg, lock_deadline(), [&] {
    rec->spec.quota = shm::LoadRelaxed(seg.header().tenant.xquota_bytes);
    rec->number = seg.header().generation.number;
    if (truncated) return;  // its contents past the cut are gone
    live = LiveProcesses(seg);
    report = shm::Validate(seg);
  });
  if (truncated) fault = truncated;
  // Validate is exact only over a quiescent segment: with live clients allocating, its
  // errors may be the clients' work in progress, and the arena is adopted (any fault they
  // hide is caught by the operation that meets it).
  if (!fault && !report.ok() && live == 0) {
    std::vector<std::string> quoted(
        report.errors.begin(),
        report.errors.begin() + static_cast<long>(std::min(report.errors.size(), kQuotedErrors)));
    fault = QuarantineReason{shm::SegmentFault::Kind::kCorrupt,
                             absl::StrCat("validation at adoption: ", absl::StrJoin(quoted, "; ")),
                             absl::Now()};
  } else if (!fault && !report.ok()) {
    LogWarning("adoption_validation_inconclusive")
        .Kv("arena", rec->spec.id)
        .Kv("errors", report.errors.size())
        .Kv("live_procs", live)
        .Kv("note", "clients are allocating: adopted");
  }
  if (!fault) return;
  rec->quarantine = std::make_shared<const QuarantineReason>(*fault);
  LogWarning("arena_quarantined")
      .Kv("arena", rec->spec.id)
      .Kv("kind", FaultKindName(fault->kind))
      .Kv("reason", fault->message)
      .Kv("note", "adopted quarantined; reset or delete it");
}

}  // namespace shmpool::server
