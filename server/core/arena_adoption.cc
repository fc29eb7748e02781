// ArenaRegistry, adoption at start: the segment files a previous daemon left in the shm
// directory become arenas again (arena_registry.h has the contract, server/README.md the
// operator's view). A file of the daemon's whose header fails its checks (arena_files.h) is
// adopted QUARANTINED without being mapped, with the spec its .meta records.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "proto/api/names.h"
#include "server/core/arena_files.h"
#include "server/core/arena_registry.h"
#include "server/core/log.h"
#include "server/core/safe_file.h"

namespace shmpool::server {
namespace {

// Logs why the segment at `path` is not adopted. A regular file of the daemon's uid (only
// the daemon or root writes this directory) is kept for forensics, out of the way of a new
// arena of the same name; a symlink or another uid's file is not the daemon's to move.
void SetAside(const std::string& path, const absl::Status& why) {
  struct stat st {};
  const bool ours = lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid();
  const std::string aside = path + ".rejected";
  const bool moved = ours && rename(path.c_str(), aside.c_str()) == 0;
  LogWarning("segment_not_adopted")
      .Kv("path", path)
      .Kv("reason", why.message())
      .Kv("moved_to", moved ? aside : "(left in place)");
}

// A geometry that a .meta without one lets the daemon accept: one it could have created.
absl::Status CheckUnrecordedGeometry(const shm::Geometry& g, const Limits& limits) {
  if (g.capacity > limits.max_arena_capacity)
    return absl::FailedPreconditionError(absl::StrFormat(
        "segment says capacity %d, above limits.max_arena_capacity %d (its .meta records no "
        "geometry)",
        g.capacity, limits.max_arena_capacity));
  if (g.ring_slots != shm::Geometry{}.ring_slots)
    return absl::FailedPreconditionError(
        absl::StrFormat("segment says ring_slots %d, the daemon creates %d (its .meta records "
                        "no geometry)",
                        g.ring_slots, shm::Geometry{}.ring_slots));
  return absl::OkStatus();
}

}  // namespace

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
  for (const std::string& id : ids) adopted += AdoptLocked(id) ? 1 : 0;
  AdoptRetiredLocked(others);
  return adopted;
}

bool ArenaRegistry::AdoptLocked(const std::string& id) {
  const std::string path = SegmentPath(id);
  const std::string meta_path = MetaPath(id);
  absl::StatusOr<ArenaMeta> meta = ReadMeta(meta_path);
  if (!meta.ok()) {
    SetAside(path, meta.status());
    return false;
  }
  absl::StatusOr<int> fd = OpenDaemonSegment(path, *meta);
  if (!fd.ok()) {
    SetAside(path, fd.status());
    return false;
  }
  absl::StatusOr<shm::Geometry> geometry = CheckSegmentHeader(*fd, *meta);
  if (geometry.ok() && !meta->geometry)
    if (absl::Status st = CheckUnrecordedGeometry(*geometry, limits_); !st.ok()) geometry = st;
  // A file of the daemon's with the geometry it created, cut short by a tenant: extended
  // back to full length and adopted QUARANTINED. Only the daemon writes this directory, so
  // the file checked is the file restored.
  std::optional<QuarantineReason> truncated;
  if (geometry.ok()) truncated = RestoreTruncated(path);
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg =
      geometry.ok() ? shm::Segment::FromFd(*fd, path) : geometry.status();
  if (!geometry.ok()) close(*fd);
  // Without the .meta's geometry there is no spec to adopt an unmapped file with.
  if (!seg.ok() && !meta->geometry) {
    SetAside(path, seg.status());
    return false;
  }
  auto rec = std::make_shared<ArenaRecord>();
  rec->generation = next_generation_++;
  rec->adopted = true;
  rec->uid = meta->uid;  // the file's, as OpenDaemonSegment checked
  rec->gid = meta->gid;
  if (seg.ok()) {
    const shm::Geometry& g = (*seg)->geometry();
    rec->spec = ArenaSpec{.id = id,
                          .capacity = g.capacity,
                          .max_procs = g.max_procs,
                          .max_thread_caches = g.max_thread_caches};
    rec->create_time = absl::FromUnixNanos((*seg)->header().created_unix_ns);
    rec->segment = std::move(*seg);
    AdmitAdopted(rec.get(), truncated);
    if (!meta->geometry) {
      meta->geometry = g;
      const absl::Status written = ReplaceFile(meta_path, FormatMeta(*meta), 0600);
      LogInfo("meta_geometry_recorded")
          .Kv("arena", id)
          .Kv("capacity", g.capacity)
          .Kv("max_procs", g.max_procs)
          .Kv("max_thread_caches", g.max_thread_caches)
          .Kv("written", written.ok() ? "ok" : written.message());
    }
  } else {
    const shm::Geometry& g = *meta->geometry;
    rec->spec = ArenaSpec{.id = id,
                          .capacity = g.capacity,
                          .quota = meta->quota_bytes,
                          .max_procs = g.max_procs,
                          .max_thread_caches = g.max_thread_caches};
    struct stat st {};
    rec->create_time =
        stat(meta_path.c_str(), &st) == 0 ? absl::TimeFromTimespec(st.st_mtim) : absl::Now();
    rec->unmapped_path = path;
    rec->quarantine = std::make_shared<const QuarantineReason>(QuarantineReason{
        shm::SegmentFault::Kind::kCorrupt,
        absl::StrCat("segment header at adoption: ", seg.status().message()), absl::Now()});
    LogWarning("arena_quarantined")
        .Kv("arena", id)
        .Kv("kind", FaultKindName(rec->quarantine->kind))
        .Kv("reason", rec->quarantine->message)
        .Kv("note", "adopted quarantined, not mapped; reset or delete it");
  }
  LogInfo("arena_adopted")
      .Kv("arena", id)
      .Kv("path", path)
      .Kv("capacity", rec->spec.capacity)
      .Kv("generation", rec->arena_generation())
      .Kv("state", rec->quarantine ? "QUARANTINED" : "ok");
  arenas_[id] = std::move(rec);
  return true;
}

}  // namespace shmpool::server
