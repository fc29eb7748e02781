#include "server/arena_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/safe_file.h"

namespace shmpool::server {

std::string FormatMeta(const ArenaMeta& meta) {
  return absl::StrFormat("quota_bytes = %d\nowner_uid = %d\ngroup_gid = %d\n", meta.quota_bytes,
                         meta.uid, meta.gid);
}

absl::StatusOr<ArenaMeta> ReadMeta(const std::string& path) {
  absl::StatusOr<std::string> text = ReadOwnedFile(path, geteuid());
  if (!text.ok()) return text.status();
  ArenaMeta m{.uid = geteuid(), .gid = getegid()};
  bool has_quota = false;
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
    }
  }
  if (!has_quota)
    return absl::FailedPreconditionError(absl::StrFormat("%s: no quota_bytes line", path));
  return m;
}

absl::StatusOr<std::unique_ptr<shm::Segment>> OpenArenaSegment(const std::string& path,
                                                               const ArenaMeta& meta) {
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
  return shm::Segment::FromFd(*fd, path);
}

}  // namespace shmpool::server
