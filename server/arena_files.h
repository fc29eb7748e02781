// The files of an arena in the shm directory, as the daemon makes and adopts them.
//
// <shm-dir>/shmpool.<id>.meta, the sidecar, holds what the segment does not: the quota and
// the owner and group the daemon gave the segment file. It is always the daemon's own file
// (owner the daemon's uid, mode 0600), replaced atomically (safe_file.h), so a tenant that
// owns its segment cannot forge it.
//
// A segment file is adopted at start only when it is what the daemon made: a regular file
// (opened O_NOFOLLOW, checked with fstat on that descriptor) whose owner and group are the
// ones its .meta records, with the mode the daemon creates (0600 when it is the daemon's
// own, 0660 when it was given to a tenant's uid or group).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "shm/segment.h"

namespace shmpool::server {

struct ArenaMeta {
  uint64_t quota_bytes = 0;
  uid_t uid = 0;  // the segment file's owner and group
  gid_t gid = 0;
};

std::string FormatMeta(const ArenaMeta& meta);
// The sidecar at `path`, which must be the daemon's own file (FAILED_PRECONDITION saying
// why not). A sidecar without owner or group lines records the daemon's.
absl::StatusOr<ArenaMeta> ReadMeta(const std::string& path);

// The segment at `path` mapped, when it is a file the daemon made with the owner and group
// of `meta`. PERMISSION_DENIED with the reason for a file that is not (it is left alone);
// the error of shm::Segment::FromFd for one that is but does not validate.
absl::StatusOr<std::unique_ptr<shm::Segment>> OpenArenaSegment(const std::string& path,
                                                               const ArenaMeta& meta);

}  // namespace shmpool::server
