#include "server/arena_registry.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "server/log.h"
#include "shm/atomics.h"
#include "shm/proc_identity.h"

namespace shmpool::server {

uint32_t LiveProcesses(const shm::Segment& seg) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < seg.geometry().max_procs; ++i) {
    const shm::ProcRecord& r = seg.proc(i);
    if (shm::LoadAcquire(r.xstate) != shm::ProcRecord::kLive) continue;
    if (!shm::ProcIdentity{r.pid, r.start_time}.KnownGone()) ++n;  // unknown counts as live
  }
  return n;
}

namespace {

shm::Geometry GeometryOf(const ArenaSpec& spec) {
  shm::Geometry g;
  g.capacity = spec.capacity;
  if (spec.max_procs) g.max_procs = spec.max_procs;
  if (spec.max_thread_caches) g.max_thread_caches = spec.max_thread_caches;
  return g;
}

void WriteMeta(const std::string& path, const ArenaSpec& spec) {
  std::ofstream out(path, std::ios::trunc);
  out << "quota_bytes = " << spec.quota << "\n";
  if (!out) LogWarning("meta_write_failed").Kv("path", path);
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

int ArenaRegistry::AdoptExisting() {
  DIR* dir = opendir(shm_dir_.c_str());
  if (dir == nullptr) return 0;
  std::vector<std::string> ids, others;
  while (dirent* e = readdir(dir)) {
    std::string id = api::ArenaIdOfSegmentFile(e->d_name);
    if (!id.empty())
      ids.push_back(std::move(id));
    else
      others.emplace_back(e->d_name);
  }
  closedir(dir);
  absl::MutexLock lock(&mu_);
  int adopted = 0;
  for (const std::string& id : ids) {
    const std::string path = SegmentPath(id);
    absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path);
    if (!seg.ok()) {
      // Keep it for forensics, out of the way of a new arena of the same name.
      const std::string aside = path + ".rejected";
      const bool moved = rename(path.c_str(), aside.c_str()) == 0;
      LogWarning("segment_not_adopted")
          .Kv("path", path)
          .Kv("reason", seg.status().message())
          .Kv("moved_to", moved ? aside : "(left in place)");
      continue;
    }
    struct stat st {};
    fstat((*seg)->fd(), &st);
    auto rec = std::make_shared<ArenaRecord>();
    const shm::Geometry& g = (*seg)->geometry();
    rec->spec = ArenaSpec{.id = id,
                          .capacity = g.capacity,
                          .quota = shm::LoadRelaxed((*seg)->header().tenant.xquota_bytes),
                          .max_procs = g.max_procs,
                          .max_thread_caches = g.max_thread_caches};
    rec->generation = next_generation_++;
    rec->create_time = absl::FromUnixNanos((*seg)->header().created_unix_ns);
    rec->adopted = true;
    rec->uid = st.st_uid;
    rec->gid = st.st_gid;
    rec->segment = std::move(*seg);
    LogInfo("arena_adopted")
        .Kv("arena", id)
        .Kv("path", path)
        .Kv("capacity", g.capacity)
        .Kv("generation", rec->arena_generation())
        .Kv("live_procs", LiveProcesses(*rec->segment));
    arenas_[id] = std::move(rec);
    ++adopted;
  }
  AdoptRetiredLocked(others);
  return adopted;
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
  const std::string path = SegmentPath(spec.id);
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
  rec->segment = std::move(*seg);
  WriteMeta(MetaPath(spec.id), spec);
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
  std::vector<ArenaPtr> out;
  for (const auto& [id, a] : arenas_) out.push_back(a);
  return out;
}

uint32_t ArenaRegistry::LiveClients(const ArenaRecord& arena) const {
  return LiveProcesses(*arena.segment) + sessions_->CountAttaching(arena.spec.id);
}

absl::Status ArenaRegistry::CheckNoClients(const ArenaRecord& arena, absl::string_view verb) const {
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
  return change(*it->second);
}

absl::StatusOr<ArenaPtr> ArenaRegistry::UpdateQuota(absl::string_view id, uint64_t quota) {
  absl::MutexLock lock(&mu_);
  auto it = arenas_.find(id);
  if (it == arenas_.end())
    return absl::NotFoundError(absl::StrFormat("arena \"%s\" does not exist", id));
  const ArenaRecord& old = *it->second;
  if (quota > old.spec.capacity)
    return absl::InvalidArgumentError(
        absl::StrFormat("quota %s is larger than arena \"%s\"'s capacity %s",
                        api::FormatSize(quota), id, api::FormatSize(old.spec.capacity)));
  // The segment is the source of truth (every attached process reads it); the record and
  // the sidecar follow.
  shm::StoreRelaxed(old.segment->header().tenant.xquota_bytes, quota);
  auto rec = std::make_shared<ArenaRecord>(old);
  rec->spec.quota = quota;
  WriteMeta(MetaPath(id), rec->spec);
  LogInfo("arena_updated").Kv("arena", id).Kv("quota", quota);
  ArenaPtr out = rec;
  it->second = std::move(rec);
  return out;
}

}  // namespace shmpool::server
