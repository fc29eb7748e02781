// DaemonLink in a build without gRPC (SHMPOOL_WITH_GRPC=OFF, e.g. the TSan preset):
// attaching through the daemon is unavailable; shmpool_attach_segment still works.
#include "src/daemon_link.h"

namespace shmpool::internal {

struct DaemonLink::Impl {
  SegmentInfo segment;
};

absl::StatusOr<std::unique_ptr<DaemonLink>> DaemonLink::Attach(const std::string&,
                                                               const std::string&,
                                                               const std::string&) {
  return absl::UnavailableError(
      "this libshmpool_client was built without gRPC (SHMPOOL_WITH_GRPC=OFF): it cannot "
      "attach through shmpoold; use shmpool_attach_segment (Client::AttachSegment)");
}

DaemonLink::DaemonLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DaemonLink::~DaemonLink() = default;
const DaemonLink::SegmentInfo& DaemonLink::segment() const { return impl_->segment; }
absl::Status DaemonLink::OpenSession(const Mapping&, FollowReset) {
  return absl::UnavailableError("no gRPC");
}
absl::StatusOr<uint64_t> DaemonLink::Purge() { return absl::UnavailableError("no gRPC"); }

}  // namespace shmpool::internal
