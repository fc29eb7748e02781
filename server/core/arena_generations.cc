// ArenaRegistry, the generations of an arena: reset with clients attached, the retired
// generations kept while clients map them, and their adoption after a restart.
//
// Why reset is safe with clients attached. A reset never empties the segment clients map:
// it gives the arena a new segment file (the next generation, complete and empty: same
// geometry, quota, owner, mode, and the same pools re-created empty) and retires the old
// file. Every process that maps the old file keeps a valid mapping; the blocks it hands out
// afterwards are blocks of the old file's allocator, which never hands a block out twice,
// and every block of the new generation comes from the new file's allocator. The two are
// different memory, so no block is handed out twice across a reset, whatever order
// clients learn of it in. Clients learn it two ways: the session stream (RESET, from the
// session service through the ResetObserver) and the old header's xretired_by word, which
// any mapper can read without the daemon.
//
// The steps, each leaving a state a restarted daemon adopts correctly:
//   1. create the next generation as <name>.creating (no client opens that name); a daemon
//      that dies here leaves a file AdoptExisting removes.
//   2. link <name> to <name>.retired-<old generation> (both name the old file), then rename
//      <name>.creating over <name> (atomic: <name> always names a complete generation).
//      A daemon that dies between the two leaves a retired name of the current file,
//      which adoption recognises by its inode and removes.
//   3. store the new generation's number in the old header's xretired_by (release), after
//      step 2 so a client that reads it finds the new generation under <name>. A daemon that
//      dies before it is redone by adoption.
//   4. keep the old file, mapped, while live processes map it (they still use its blocks);
//      unlink it when none does (SweepRetired, every kSweepInterval).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "proto/api/names.h"
#include "server/core/arena_files.h"
#include "server/core/arena_registry.h"
#include "server/core/log.h"
#include "shm/atomics.h"
#include "shm/check.h"
#include "shm/pool.h"

namespace shmpool::server {
namespace {

constexpr absl::Duration kSweepInterval = absl::Milliseconds(250);
constexpr absl::string_view kCreatingSuffix = ".creating";

// The spec a pool of `seg` was created with (its caches from the pool's header).
shm::PoolSpec PoolSpecOf(const shm::Segment& seg, const shm::PoolStats& p) {
  const uint32_t start = seg.header().pools[p.slot].run_start;
  SHMPOOL_CHECK(start < seg.data_pages());  // the tenant writes the header
  const auto& h = *reinterpret_cast<const shm::PoolHeader*>(seg.base() + seg.page_offset(start));
  return shm::PoolSpec{.name = p.name,
                       .object_size = p.object_size,
                       .count = static_cast<uint32_t>(p.count),
                       .align = static_cast<uint32_t>(p.align),
                       .headroom = static_cast<uint32_t>(p.headroom),
                       .cache_line_pad = p.cache_line_pad,
                       .caches = static_cast<uint32_t>(h.ncaches)};
}

bool SameFile(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  return fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

}  // namespace

std::string ArenaRegistry::RetiredPath(absl::string_view id, uint64_t generation) const {
  return absl::StrCat(shm_dir_, "/", api::RetiredSegmentFileName(id, generation));
}

absl::StatusOr<std::unique_ptr<shm::Segment>> ArenaRegistry::CreateNextGeneration(
    const ArenaRecord& old, const ArenaSpec& spec, const std::string& path) const {
  unlink(path.c_str());  // left by a reset that failed half-way
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = CreateSegment(spec, path);
  if (!seg.ok()) return seg.status();
  (*seg)->header().generation.number = old.arena_generation() + 1;
  // The pools to re-create, read from the old generation unless it is not trusted (then
  // the next generation starts without pools).
  std::vector<shm::PoolSpec> pools;
  if (!old.quarantine && RunUntrusted(*old.segment, lock_deadline(), [&] {
        for (const shm::PoolStats& p : shm::ListPools(*old.segment))
          pools.push_back(PoolSpecOf(*old.segment, p));
      }))
    pools.clear();
  for (const shm::PoolSpec& p : pools) {
    absl::StatusOr<uint32_t> slot = shm::CreatePool(**seg, p);
    if (!slot.ok()) {
      unlink(path.c_str());
      return absl::Status(slot.status().code(),
                          absl::StrCat("cannot re-create pool \"", p.name,
                                       "\" in the next generation: ", slot.status().message()));
    }
  }
  return seg;
}

absl::Status ArenaRegistry::SwapInNextGeneration(const ArenaRecord& old,
                                                 const std::string& next_path,
                                                 std::string* retired_path) const {
  const std::string path = SegmentPath(old.spec.id);
  *retired_path = RetiredPath(old.spec.id, old.arena_generation());
  unlink(retired_path->c_str());  // a stale name (see adoption); no generation is there
  // link + rename: the arena's name always names a complete generation. A file system
  // without hard links gets two renames (an attach in that instant fails with NOT_FOUND).
  int rc = link(path.c_str(), retired_path->c_str());
  if (rc != 0 && (errno == EPERM || errno == EOPNOTSUPP))
    rc = rename(path.c_str(), retired_path->c_str());
  if (rc != 0) {
    const int e = errno;
    unlink(next_path.c_str());
    return absl::InternalError(absl::StrFormat("cannot retire segment %s as %s: %s", path,
                                               *retired_path, std::strerror(e)));
  }
  if (rename(next_path.c_str(), path.c_str()) != 0) {
    const int e = errno;
    if (access(path.c_str(), F_OK) != 0) rename(retired_path->c_str(), path.c_str());
    unlink(retired_path->c_str());
    unlink(next_path.c_str());
    return absl::InternalError(absl::StrFormat("cannot move the next generation %s to %s: %s",
                                               next_path, path, std::strerror(e)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ArenaPtr> ArenaRegistry::Reset(absl::string_view id) {
  ResetObserver* observer = nullptr;
  ArenaPtr out;
  {
    absl::MutexLock lock(&mu_);
    auto it = arenas_.find(id);
    if (it == arenas_.end())
      return absl::NotFoundError(absl::StrFormat("arena \"%s\" does not exist", id));
    const ArenaRecord& old = *it->second;
    ArenaSpec spec = old.spec;
    // Keep the file's owner and group (an adopted arena may have been shared).
    if (old.uid != geteuid()) spec.owner = old.uid;
    if (old.gid != getegid()) spec.group = old.gid;
    const std::string path = SegmentPath(id);
    const std::string next_path = absl::StrCat(path, kCreatingSuffix);
    absl::StatusOr<std::unique_ptr<shm::Segment>> next = CreateNextGeneration(old, spec, next_path);
    if (!next.ok()) return next.status();
    // Mapped under the arena's name (what clients are told) before the swap, which
    // leaves nothing to fail after it.
    absl::StatusOr<std::unique_ptr<shm::Segment>> seg =
        shm::Segment::FromFd(dup((*next)->fd()), path);
    if (!seg.ok()) {
      unlink(next_path.c_str());
      return seg.status();
    }
    next->reset();
    std::string retired_path;
    if (absl::Status st = SwapInNextGeneration(old, next_path, &retired_path); !st.ok()) return st;
    auto rec = std::make_shared<ArenaRecord>();
    rec->spec = spec;
    rec->segment = std::move(*seg);
    rec->generation = next_generation_++;
    rec->create_time = absl::FromUnixNanos(rec->segment->header().created_unix_ns);
    rec->uid = old.uid;
    rec->gid = old.gid;
    rec->number = old.arena_generation() + 1;
    rec->retired = old.retired;
    // A quarantined generation is dropped unread: its processes learn of the reset from
    // their session streams, and keep their own mappings of the unlinked file.
    uint32_t mapped_by = 0;
    if (!old.quarantine) {
      shm::StoreRelease(old.segment->header().generation.xretired_by, rec->arena_generation());
      mapped_by = LiveProcesses(*old.segment);
    }
    if (mapped_by > 0)
      rec->retired.push_back({old.arena_generation(), retired_path, old.segment});
    else
      unlink(retired_path.c_str());
    LogInfo("arena_reset")
        .Kv("arena", id)
        .Kv("generation", rec->arena_generation())
        .Kv("retired", mapped_by > 0 ? retired_path : "(unlinked: no client mapped it)")
        .Kv("retired_clients", mapped_by);
    if (!rec->retired.empty()) StartSweeperLocked();
    out = rec;
    it->second = std::move(rec);
    observer = observer_;
  }
  if (observer != nullptr) observer->ArenaReset(*out);
  return out;
}

void ArenaRegistry::AdoptRetiredLocked(const std::vector<std::string>& files) {
  for (const std::string& name : files) {
    const std::string path = absl::StrCat(shm_dir_, "/", name);
    if (absl::EndsWith(name, absl::StrCat(".seg", kCreatingSuffix)) &&
        !api::ArenaIdOfSegmentFile(absl::StripSuffix(name, kCreatingSuffix)).empty()) {
      unlink(path.c_str());  // a reset that stopped before its swap: no client opened it
      LogInfo("reset_leftover_removed").Kv("path", path);
      continue;
    }
    const std::string id = api::ArenaIdOfRetiredFile(name);
    if (id.empty()) continue;
    auto it = arenas_.find(id);
    // A retired generation has its arena's owner, group and geometry (none: the daemon's
    // owner, any geometry).
    const ArenaMeta owner = it != arenas_.end()
                                ? ArenaMeta{.uid = it->second->uid,
                                            .gid = it->second->gid,
                                            .geometry = GeometryOf(it->second->spec)}
                                : ArenaMeta{.uid = geteuid(), .gid = getegid()};
    absl::StatusOr<std::unique_ptr<shm::Segment>> seg = OpenArenaSegment(path, owner);
    if (!seg.ok()) {
      LogWarning("retired_segment_not_adopted")
          .Kv("path", path)
          .Kv("reason", seg.status().message());
      continue;
    }
    if (it != arenas_.end() && SameFile((*seg)->fd(), SegmentPath(id))) {
      unlink(path.c_str());  // a reset that stopped between link and rename
      LogInfo("reset_leftover_removed").Kv("path", path);
      continue;
    }
    const uint32_t mapped_by = LiveProcesses(**seg);
    if (mapped_by == 0 || it == arenas_.end()) {
      if (mapped_by == 0) {
        unlink(path.c_str());
        LogInfo("retired_segment_removed").Kv("arena", id).Kv("path", path);
      } else {
        LogWarning("retired_segment_orphaned")
            .Kv("path", path)
            .Kv("clients", mapped_by)
            .Kv("note", "its arena is gone; remove the file once they detach");
      }
      continue;
    }
    // A reset that stopped before telling the old header: tell it now.
    uint64_t expected = 0;
    shm::CasStrongAcqRel((*seg)->header().generation.xretired_by, expected,
                         it->second->arena_generation());
    auto rec = std::make_shared<ArenaRecord>(*it->second);
    const uint64_t generation = (*seg)->header().generation.number;
    rec->retired.push_back({generation, path, std::move(*seg)});
    std::sort(rec->retired.begin(), rec->retired.end(),
              [](const RetiredGeneration& a, const RetiredGeneration& b) {
                return a.generation < b.generation;
              });
    it->second = std::move(rec);
    LogInfo("retired_segment_kept")
        .Kv("arena", id)
        .Kv("generation", generation)
        .Kv("path", path)
        .Kv("clients", mapped_by);
    StartSweeperLocked();
  }
}

int ArenaRegistry::SweepRetired() {
  int removed = 0;
  absl::MutexLock lock(&mu_);
  for (auto& [id, rec] : arenas_) {
    if (rec->retired.empty()) continue;
    std::vector<RetiredGeneration> keep;
    for (const RetiredGeneration& r : rec->retired) {
      if (LiveProcesses(*r.segment) > 0) {
        keep.push_back(r);
        continue;
      }
      unlink(r.path.c_str());
      ++removed;
      LogInfo("retired_segment_removed")
          .Kv("arena", id)
          .Kv("generation", r.generation)
          .Kv("path", r.path);
    }
    if (keep.size() == rec->retired.size()) continue;
    auto next = std::make_shared<ArenaRecord>(*rec);
    next->retired = std::move(keep);
    rec = std::move(next);
  }
  return removed;
}

void ArenaRegistry::StartSweeperLocked() {
  if (!sweeper_.joinable() && !stopping_) sweeper_ = std::thread([this] { SweepLoop(); });
}

void ArenaRegistry::SweepLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), kSweepInterval)) return;
    }
    SweepRetired();
  }
}

}  // namespace shmpool::server
