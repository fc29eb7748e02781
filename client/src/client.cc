#include "shmpool/client.h"

#include <errno.h>

#include <utility>

#include "absl/strings/str_format.h"
#include "shm/purge.h"
#include "src/daemon_link.h"

namespace shmpool {

absl::StatusOr<std::unique_ptr<Client>> Client::AttachSegment(const std::string& path,
                                                              const shm::AttachOptions& options) {
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path);
  if (!seg.ok()) return seg.status();
  absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
      shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), options);
  if (!heap.ok()) return heap.status();
  return std::unique_ptr<Client>(new Client(std::move(*heap), nullptr));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Attach(const std::string& endpoint,
                                                       const std::string& arena,
                                                       const shm::AttachOptions& options) {
  shm::AttachOptions opts = options;
  if (opts.name.empty()) opts.name = program_invocation_short_name;
  absl::StatusOr<std::unique_ptr<internal::DaemonLink>> link =
      internal::DaemonLink::Attach(endpoint, arena, opts.name);
  if (!link.ok()) return link.status();
  const internal::DaemonLink::SegmentInfo& info = (*link)->segment();
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(info.path);
  if (!seg.ok()) return seg.status();
  if ((*seg)->sections().total != info.segment_bytes ||
      (*seg)->geometry().capacity != info.capacity ||
      (*seg)->header().layout_version != info.layout_version)
    return absl::FailedPreconditionError(absl::StrFormat(
        "segment %s does not have the geometry the daemon announced (capacity %d, %d bytes)",
        info.path, info.capacity, info.segment_bytes));
  absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
      shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), opts);
  if (!heap.ok()) return heap.status();
  if (absl::Status st = (*link)->OpenSession(static_cast<int32_t>((*heap)->proc_index())); !st.ok())
    return st;
  return std::unique_ptr<Client>(new Client(std::move(*heap), std::move(*link)));
}

Client::Client(std::unique_ptr<shm::Heap> heap, std::unique_ptr<internal::DaemonLink> link)
    : heap_(std::move(heap)), link_(std::move(link)) {}

Client::~Client() {
  heap_.reset();  // detach from the segment first: the process record is free when...
  link_.reset();  // ...the session ends and the daemon counts the client gone
}

absl::StatusOr<uint64_t> Client::Purge() {
  heap_->FlushThreadCache();
  if (link_ != nullptr) return link_->Purge();
  return shm::Purge(heap_->segment()).released_bytes;
}

}  // namespace shmpool
