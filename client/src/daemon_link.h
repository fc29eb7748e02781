// DaemonLink: a client's tie to shmpoold (internal to the client library).
//
// Attach asks the daemon where the arena's segment is (AttachArena); after the client has
// mapped it and claimed its process record, OpenSession opens the session stream and waits
// for the daemon's ATTACHED event. A background thread then holds the stream open: its end
// tells the daemon that the client is gone. If the daemon goes away (restart), the thread
// re-registers with the next daemon, every second, while the segment is the same file.
// When the daemon says the arena was reset (RESET), or a re-registration finds a newer
// generation, the thread asks the client to follow it (FollowReset: map the new
// generation) and registers again at once, with the client's process record there.
// Destroying the link cancels the stream and joins the thread (detach).
//
// No gRPC in this header: a build without gRPC (SHMPOOL_WITH_GRPC=OFF) links
// daemon_link_none.cc, whose Attach fails with UNAVAILABLE.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace shmpool::internal {

// What the client maps: its process record in the generation it allocates from.
struct Mapping {
  int32_t proc_index = -1;
  uint64_t generation = 0;
};

class DaemonLink {
 public:
  struct SegmentInfo {
    std::string path;
    uint64_t segment_bytes = 0;
    uint64_t capacity = 0;
    uint32_t layout_version = 0;
    uint32_t max_procs = 0;
    uint32_t max_thread_caches = 0;
    uint64_t generation = 0;
  };
  // Makes the client map generation `generation` of the arena (or a newer one) unless it
  // does already; returns what it maps then. Called on the link's thread.
  using FollowReset = std::function<absl::StatusOr<Mapping>(uint64_t generation)>;

  // endpoint: empty for the default ($SHMPOOL_ENDPOINT, else the default socket).
  static absl::StatusOr<std::unique_ptr<DaemonLink>> Attach(const std::string& endpoint,
                                                            const std::string& arena_id,
                                                            const std::string& client_name);
  ~DaemonLink();
  DaemonLink(const DaemonLink&) = delete;
  DaemonLink& operator=(const DaemonLink&) = delete;

  const SegmentInfo& segment() const;
  // Opens the session for `mapping` and starts the thread; `follow` outlives the link.
  absl::Status OpenSession(const Mapping& mapping, FollowReset follow);
  // Purges the arena through the daemon: bytes released.
  absl::StatusOr<uint64_t> Purge();

  struct Impl;

 private:
  explicit DaemonLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmpool::internal
