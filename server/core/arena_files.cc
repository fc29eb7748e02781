#include "server/core/arena_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/core/safe_file.h"

namespace shmpool::server {

namespace {

// The sidecar's geometry lines, in the order FormatMeta writes them.
constexpr const char* kGeometryKeys[] = {"capacity", "max_procs", "max_thread_caches",
                                         "ring_slots"};

// Sets the geometry field of `key` (one of kGeometryKeys) to `n`; false if it does not fit.
bool SetGeometryField(shm::Geometry& g, absl::string_view key, uint64_t n) {
  if (key == "capacity") {
    g.capacity = n;
    return true;
  }
  if (n > UINT32_MAX) return false;
  const auto v = static_cast<uint32_t>(n);
  (key == "max_procs"           ? g.max_procs
   : key == "max_thread_caches" ? g.max_thread_caches
                                : g.ring_slots) = v;
  return true;
}

}  // namespace

shm::Geometry GeometryOf(const ArenaSpec& spec) {
  shm::Geometry g;
  g.capacity = spec.capacity;
  if (spec.max_procs) g.max_procs = spec.max_procs;
  if (spec.max_thread_caches) g.max_thread_caches = spec.max_thread_caches;
  return g;
}

std::string FormatMeta(const ArenaMeta& meta) {
  std::string out = absl::StrFormat("quota_bytes = %d\nowner_uid = %d\ngroup_gid = %d\n",
                                    meta.quota_bytes, meta.uid, meta.gid);
  if (const std::optional<shm::Geometry>& g = meta.geometry)
    absl::StrAppendFormat(
        &out, "capacity = %d\nmax_procs = %d\nmax_thread_caches = %d\nring_slots = %d\n",
        g->capacity, g->max_procs, g->max_thread_caches, g->ring_slots);
  return out;
}

absl::StatusOr<ArenaMeta> ReadMeta(const std::string& path) {
  absl::StatusOr<std::string> text = ReadOwnedFile(path, geteuid());
  if (!text.ok()) return text.status();
  ArenaMeta m{.uid = geteuid(), .gid = getegid()};
  bool has_quota = false;
  shm::Geometry g;
  size_t geometry_lines = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, '=');
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    const absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    uint64_t n = 0;
    if (!absl::SimpleAtoi(value, &n))
      return absl::FailedPreconditionError(absl::StrFormat("%s: bad line \"%s\"", path, line));
    if (key == "quota_bytes") {
      m.quota_bytes = n;
      has_quota = true;
    } else if (key == "owner_uid") {
      m.uid = static_cast<uid_t>(n);
    } else if (key == "group_gid") {
      m.gid = static_cast<gid_t>(n);
    } else if (std::find(std::begin(kGeometryKeys), std::end(kGeometryKeys), key) !=
               std::end(kGeometryKeys)) {
      if (!SetGeometryField(g, key, n))
        return absl::FailedPreconditionError(absl::StrFormat("%s: bad line \"%s\"", path, line));
      ++geometry_lines;
    }
  }
  if (!has_quota)
    return absl::FailedPreconditionError(absl::StrFormat("%s: no quota_bytes line", path));
  if (geometry_lines == std::size(kGeometryKeys))
    m.geometry = g;
  else if (geometry_lines != 0)
    return absl::FailedPreconditionError(absl::StrFormat("%s: %d of the geometry's %d lines", path,
                                                         geometry_lines, std::size(kGeometryKeys)));
  return m;
}

absl::StatusOr<int> OpenDaemonSegment(const std::string& path, const ArenaMeta& meta) {
  absl::StatusOr<int> fd = OpenNoFollow(path, O_RDWR | O_NONBLOCK);
  if (!fd.ok()) return absl::PermissionDeniedError(fd.status().message());
  struct stat st {};
  std::string reason;
  const bool own = meta.uid == geteuid() && meta.gid == getegid();
  if (fstat(*fd, &st) != 0) {
    reason = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    reason = "not a regular file";
  } else if (st.st_uid != meta.uid || st.st_gid != meta.gid) {
    reason = absl::StrFormat("owned by uid %d gid %d, its .meta records uid %d gid %d", st.st_uid,
                             st.st_gid, meta.uid, meta.gid);
  } else if ((st.st_mode & 07777) != 0660 && !(own && (st.st_mode & 07777) == 0600)) {
    reason = absl::StrFormat("mode %04o, not the daemon's %s", st.st_mode & 07777,
                             own ? "0600 or 0660" : "0660");
  }
  if (!reason.empty()) {
    close(*fd);
    return absl::PermissionDeniedError(absl::StrFormat("%s: %s", path, reason));
  }
  return *fd;
}

absl::StatusOr<shm::Geometry> CheckSegmentHeader(int fd, const ArenaMeta& meta) {
  alignas(shm::SegmentHeader) char header[sizeof(shm::SegmentHeader)] = {};
  const auto* h = reinterpret_cast<const shm::SegmentHeader*>(header);
  const ssize_t n = pread(fd, header, sizeof header, 0);
  // The length is checked when the file is mapped (a file cut short is restored first).
  if (absl::Status st = shm::Segment::ValidateImage(
          header, n == static_cast<ssize_t>(sizeof header) ? h->sections.total : 0);
      !st.ok())
    return st;
  if (!meta.geometry) return h->geometry;
  const shm::Geometry& want = *meta.geometry;
  const shm::Geometry& got = h->geometry;
  const std::pair<const char*, std::pair<uint64_t, uint64_t>> fields[] = {
      {"capacity", {got.capacity, want.capacity}},
      {"max_procs", {got.max_procs, want.max_procs}},
      {"max_thread_caches", {got.max_thread_caches, want.max_thread_caches}},
      {"ring_slots", {got.ring_slots, want.ring_slots}}};
  for (const auto& [name, v] : fields)
    if (v.first != v.second)
      return absl::FailedPreconditionError(absl::StrFormat(
          "segment says %s %d, the daemon created %d (its .meta)", name, v.first, v.second));
  return got;
}

absl::StatusOr<std::unique_ptr<shm::Segment>> OpenArenaSegment(const std::string& path,
                                                               const ArenaMeta& meta) {
  absl::StatusOr<int> fd = OpenDaemonSegment(path, meta);
  if (!fd.ok()) return fd.status();
  if (absl::StatusOr<shm::Geometry> g = CheckSegmentHeader(*fd, meta); !g.ok()) {
    close(*fd);
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", g.status().message()));
  }
  return shm::Segment::FromFd(*fd, path);
}

}  // namespace shmpool::server
