// DaemonLink: a client's tie to shmpoold (internal to the client library).
//
// Attach asks the daemon where the arena's segment is (AttachArena); after the client has
// mapped it and claimed its process record, OpenSession opens the session stream and waits
// for the daemon's ATTACHED event. A background thread then holds the stream open: its end
// tells the daemon that the client is gone. If the daemon goes away (restart), the thread
// re-registers with the next daemon, every second, while the segment is the same file.
// Destroying the link cancels the stream and joins the thread (detach).
//
// No gRPC in this header: a build without gRPC (SHMPOOL_WITH_GRPC=OFF) links
// daemon_link_none.cc, whose Attach fails with UNAVAILABLE.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace shmpool::internal {

class DaemonLink {
 public:
  struct SegmentInfo {
    std::string path;
    uint64_t segment_bytes = 0;
    uint64_t capacity = 0;
    uint32_t layout_version = 0;
    uint32_t max_procs = 0;
    uint32_t max_thread_caches = 0;
  };

  // endpoint: empty for the default ($SHMPOOL_ENDPOINT, else the default socket).
  static absl::StatusOr<std::unique_ptr<DaemonLink>> Attach(const std::string& endpoint,
                                                            const std::string& arena_id,
                                                            const std::string& client_name);
  ~DaemonLink();
  DaemonLink(const DaemonLink&) = delete;
  DaemonLink& operator=(const DaemonLink&) = delete;

  const SegmentInfo& segment() const;
  absl::Status OpenSession(int32_t proc_index);
  // Purges the arena through the daemon: bytes released.
  absl::StatusOr<uint64_t> Purge();

  struct Impl;

 private:
  explicit DaemonLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmpool::internal
