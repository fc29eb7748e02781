// The files of an arena in the shm directory, as the daemon makes and adopts them.
//
// <shm-dir>/shmpool.<id>.meta, the sidecar, holds what the segment does not: the quota, the
// owner and group the daemon gave the segment file, and the geometry it created the
// segment with (the daemon's own record of it: the segment's header is the tenant's to
// write). It is always the daemon's own file (owner the daemon's uid, mode 0600), replaced
// atomically (safe_file.h), so a tenant that owns its segment cannot forge it.
//
// A segment file is the daemon's when it is what the daemon made: a regular file (opened
// O_NOFOLLOW, checked with fstat on that descriptor) whose owner and group are the ones its
// .meta records, with the mode the daemon creates (0600 when it is the daemon's own, 0660
// when it was given to a tenant's uid or group). It is mapped only when its header is sound
// and its geometry is the one the .meta records, so the daemon never maps more than it
// created.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/config.h"
#include "shm/segment.h"

namespace shmpool::server {

struct ArenaMeta {
  uint64_t quota_bytes = 0;
  uid_t uid = 0;  // the segment file's owner and group
  gid_t gid = 0;
  // The geometry the daemon created the segment with; nullopt in a sidecar written by a
  // daemon that did not record it.
  std::optional<shm::Geometry> geometry;
};

// The geometry the daemon creates a segment of `spec` with.
shm::Geometry GeometryOf(const ArenaSpec& spec);

std::string FormatMeta(const ArenaMeta& meta);
// The sidecar at `path`, which must be the daemon's own file (FAILED_PRECONDITION saying
// why not). A sidecar without owner or group lines records the daemon's; one without the
// geometry's lines (all four or none) records none.
absl::StatusOr<ArenaMeta> ReadMeta(const std::string& path);

// A descriptor of the segment at `path`, when it is a file the daemon made with the owner
// and group of `meta`; PERMISSION_DENIED with the reason for a file that is not (it is left
// alone).
absl::StatusOr<int> OpenDaemonSegment(const std::string& path, const ArenaMeta& meta);
// The geometry in the header of the segment open at `fd`, when the header is sound (magic,
// layout version, geometry and sections: shm::Segment::ValidateImage, but for the file's
// length) and its geometry is the one `meta` records (any, when `meta` records none); else
// FAILED_PRECONDITION saying what differs. Reads the header with pread: nothing is mapped.
absl::StatusOr<shm::Geometry> CheckSegmentHeader(int fd, const ArenaMeta& meta);

// OpenDaemonSegment, CheckSegmentHeader (FAILED_PRECONDITION naming `path`), then the
// segment mapped (the error of shm::Segment::FromFd for a file that does not validate).
absl::StatusOr<std::unique_ptr<shm::Segment>> OpenArenaSegment(const std::string& path,
                                                               const ArenaMeta& meta);

}  // namespace shmpool::server
