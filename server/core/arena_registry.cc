#include "server/core/arena_registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "server/core/arena_files.h"
#include "server/core/log.h"
#include "server/core/safe_file.h"
#include "server/core/tenant_limits.h"
#include "shm/atomics.h"
#include "shm/proc_identity.h"
#include "shm/recovery.h"

namespace shmpool::server {

uint32_t LiveProcesses(const shm::Segment& seg) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < seg.geometry().max_procs; ++i) {
    uint64_t word = 0;
    shm::ProcIdentity id;
    if (!shm::ReadProcRecord(seg, i, &word, &id)) {
      ++n;  // changing under us: an attach or a detach, counted as live
      continue;
    }
    if (shm::ProcRecord::StateOf(word) != shm::ProcRecord::kLive) continue;
    if (!id.KnownGone()) ++n;  // unknown counts as live
  }
  return n;
}

namespace {

// ChangeCurrent's lock deadline: it holds the registry's mutex meanwhile.
constexpr std::chrono::milliseconds kChangeLockDeadline{100};

absl::Status WriteMeta(const std::string& path, const ArenaRecord& rec) {
  return ReplaceFile(path,
                     FormatMeta({.quota_bytes = rec.spec.quota,
                                 .uid = rec.uid,
                                 .gid = rec.gid,
                                 .geometry = GeometryOf(rec.spec)}),
                     0600);
}

std::vector<ArenaPtr> Values(const absl::btree_map<std::string, ArenaPtr>& arenas) {
  std::vector<ArenaPtr> out;
  for (const auto& [id, a] : arenas) out.push_back(a);
  return out;
}

}  // namespace

ArenaRegistry::ArenaRegistry(std::string shm_dir, Limits limits, SessionRegistry* sessions)
    : shm_dir_(std::move(shm_dir)), limits_(limits), sessions_(sessions) {}

ArenaRegistry::~ArenaRegistry() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
}

void ArenaRegistry::SetResetObserver(ResetObserver* observer) {
  absl::MutexLock lock(&mu_);
  observer_ = observer;
}

std::string ArenaRegistry::SegmentPath(absl::string_view id) const {
  return absl::StrCat(shm_dir_, "/", api::SegmentFileName(id));
}

std::string ArenaRegistry::MetaPath(absl::string_view id) const {
  return absl::StrCat(shm_dir_, "/shmpool.", id, ".meta");
}

absl::Status ArenaRegistry::Ensure(const ArenaSpec& spec) {
  absl::MutexLock lock(&mu_);
  auto it = arenas_.find(spec.id);
  if (it == arenas_.end()) return CreateLocked(spec).status();
  if (it->second->spec.capacity != spec.capacity)
    LogWarning("configured_capacity_differs")
        .Kv("arena", spec.id)
        .Kv("configured", spec.capacity)
        .Kv("segment", it->second->spec.capacity)
        .Kv("note", "keeping the existing segment; reset or delete it to apply the config");
  return absl::OkStatus();
}

absl::StatusOr<ArenaPtr> ArenaRegistry::Create(const ArenaSpec& spec) {
  absl::MutexLock lock(&mu_);
  return CreateLocked(spec);
}

absl::StatusOr<ArenaPtr> ArenaRegistry::CreateLocked(const ArenaSpec& spec) {
  if (absl::Status st = ValidateArenaSpec(spec, limits_); !st.ok()) return st;
  if (arenas_.contains(spec.id))
    return absl::AlreadyExistsError(absl::StrFormat("arena \"%s\" already exists", spec.id));
  if (arenas_.size() >= limits_.max_arenas)
    return absl::ResourceExhaustedError(
        absl::StrFormat("the daemon already serves %d arenas (limits.max_arenas)", arenas_.size()));
  if (absl::Status st =
          CheckArenaLimits(limits_, spec.owner.value_or(geteuid()), spec.capacity, Values(arenas_));
      !st.ok())
    return st;
  const std::string path = SegmentPath(spec.id);
  if (struct stat st{}; lstat(path.c_str(), &st) == 0)
    return absl::FailedPreconditionError(absl::StrFormat(
        "segment file %s exists but is not an arena of this daemon (not adopted at start: see "
        "its segment_not_adopted log line); remove it or choose another name",
        path));
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = CreateSegment(spec, path);
  if (!seg.ok()) return seg.status();
  struct stat st {};
  fstat((*seg)->fd(), &st);
  auto rec = std::make_shared<ArenaRecord>();
  rec->spec = spec;
  rec->spec.max_procs = (*seg)->geometry().max_procs;
  rec->spec.max_thread_caches = (*seg)->geometry().max_thread_caches;
  rec->generation = next_generation_++;
  rec->create_time = absl::FromUnixNanos((*seg)->header().created_unix_ns);
  rec->uid = st.st_uid;
  rec->gid = st.st_gid;
  rec->number = (*seg)->header().generation.number;  // written by us just now
  rec->segment = std::move(*seg);
  if (absl::Status written = WriteMeta(MetaPath(spec.id), *rec); !written.ok()) {
    unlink(path.c_str());
    return written;
  }
  LogInfo("arena_created")
      .Kv("arena", spec.id)
      .Kv("path", path)
      .Kv("capacity", spec.capacity)
      .Kv("quota", spec.quota)
      .Kv("uid", rec->uid)
      .Kv("gid", rec->gid);
  ArenaPtr out = rec;
  arenas_[spec.id] = std::move(rec);
  return out;
}

absl::StatusOr<std::unique_ptr<shm::Segment>> ArenaRegistry::CreateSegment(
    const ArenaSpec& spec, const std::string& path) const {
  const bool shared = spec.owner.has_value() || spec.group.has_value();
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg =
      shm::Segment::Create(path, GeometryOf(spec), shared ? 0660 : 0600);
  if (!seg.ok()) return seg.status();
  if (shared && fchown((*seg)->fd(), spec.owner ? *spec.owner : static_cast<uid_t>(-1),
                       spec.group ? *spec.group : static_cast<gid_t>(-1)) != 0) {
    const int e = errno;
    unlink(path.c_str());
    return absl::PermissionDeniedError(
        absl::StrFormat("cannot give segment %s to uid %d gid %d: %s", path,
                        spec.owner.value_or(-1), spec.group.value_or(-1), std::strerror(e)));
  }
  shm::StoreRelaxed((*seg)->header().tenant.xquota_bytes, spec.quota);  // enforced from here
  return seg;
}

absl::StatusOr<ArenaPtr> ArenaRegistry::Get(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = arenas_.find(id);
  if (it == arenas_.end())
    return absl::NotFoundError(absl::StrFormat("arena \"%s\" does not exist", id));
  return it->second;
}

std::vector<ArenaPtr> ArenaRegistry::List() const {
  absl::MutexLock lock(&mu_);
  return Values(arenas_);
}

uint32_t ArenaRegistry::LiveClients(const ArenaRecord& arena) const {
  // A quarantined segment's process records are not read: only sessions count.
  const uint32_t procs = arena.quarantine ? 0 : LiveProcesses(*arena.segment);
  return procs + sessions_->CountAttaching(arena.spec.id);
}

absl::Status ArenaRegistry::CheckNoClients(const ArenaRecord& arena, absl::string_view verb) const {
  // A quarantined arena goes whoever maps it: its processes keep their own mappings of
  // the unlinked file, and what its records say cannot be believed.
  if (arena.quarantine) return absl::OkStatus();
  const uint32_t n = LiveClients(arena);
  if (n != 0)
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot %s arena \"%s\": %d client%s still attached (detach them first)",
                        verb, arena.spec.id, n, n == 1 ? " is" : "s are"));
  for (const RetiredGeneration& r : arena.retired)
    if (const uint32_t m = LiveProcesses(*r.segment); m != 0)
      return absl::FailedPreconditionError(absl::StrFormat(
          "cannot %s arena \"%s\": %d client%s still map%s its generation %d, retired by a "
          "reset (they detach, or call shmpool_release_retired)",
          verb, arena.spec.id, m, m == 1 ? "" : "s", m == 1 ? "s" : "", r.generation));
  return absl::OkStatus();
}

absl::Status ArenaRegistry::Delete(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = arenas_.find(id);
  if (it == arenas_.end())
    return absl::NotFoundError(absl::StrFormat("arena \"%s\" does not exist", id));
  if (absl::Status st = CheckNoClients(*it->second, "delete"); !st.ok()) return st;
  const std::string path = SegmentPath(id);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return absl::InternalError(
        absl::StrFormat("cannot remove segment %s: %s", path, std::strerror(errno)));
  for (const RetiredGeneration& r : it->second->retired) unlink(r.path.c_str());
  unlink(MetaPath(id).c_str());
  arenas_.erase(it);
  LogInfo("arena_deleted").Kv("arena", id).Kv("path", path);
  return absl::OkStatus();
}

absl::Status ArenaRegistry::ChangeCurrent(
    absl::string_view id, absl::FunctionRef<absl::Status(const ArenaRecord&)> change) {
  absl::MutexLock lock(&mu_);
  auto it = arenas_.find(id);
  if (it == arenas_.end())
    return absl::NotFoundError(absl::StrFormat("arena \"%s\" does not exist", id));
  const ArenaRecord& arena = *it->second;
  if (arena.quarantine) return QuarantinedError(id, *arena.quarantine);
  // Under mu_, so a lock in the segment is waited for kChangeLockDeadline at most.
  absl::Status st;
  std::optional<QuarantineReason> fault = RunUntrusted(
      *arena.segment, std::min(lock_deadline(), kChangeLockDeadline), [&] { st = change(arena); });
  if (!fault) return st;
  const std::string arena_id = arena.spec.id;
  QuarantineLocked(arena, *fault);
  return QuarantinedError(arena_id, *fault);
}

absl::StatusOr<ArenaPtr> ArenaRegistry::UpdateQuota(absl::string_view id, uint64_t quota) {
  absl::MutexLock lock(&mu_);
  auto it = arenas_.find(id);
  if (it == arenas_.end())
    return absl::NotFoundError(absl::StrFormat("arena \"%s\" does not exist", id));
  const ArenaRecord& old = *it->second;
  if (old.quarantine) return QuarantinedError(id, *old.quarantine);
  if (quota > old.spec.capacity)
    return absl::InvalidArgumentError(
        absl::StrFormat("quota %s is larger than arena \"%s\"'s capacity %s",
                        api::FormatSize(quota), id, api::FormatSize(old.spec.capacity)));
  // The segment is what every attached process reads; the sidecar is written first so that
  // a failure changes neither.
  auto rec = std::make_shared<ArenaRecord>(old);
  rec->spec.quota = quota;
  if (absl::Status st = WriteMeta(MetaPath(id), *rec); !st.ok()) return st;
  shm::StoreRelaxed(old.segment->header().tenant.xquota_bytes, quota);
  LogInfo("arena_updated").Kv("arena", id).Kv("quota", quota);
  ArenaPtr out = rec;
  it->second = std::move(rec);
  return out;
}

}  // namespace shmpool::server
