#include "shmpool/client.h"

#include <utility>

#include "shm/purge.h"

namespace shmpool {

absl::StatusOr<std::unique_ptr<Client>> Client::AttachSegment(const std::string& path,
                                                              const shm::AttachOptions& options) {
  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(path);
  if (!seg.ok()) return seg.status();
  absl::StatusOr<std::unique_ptr<shm::Heap>> heap =
      shm::Heap::Attach(std::shared_ptr<shm::Segment>(std::move(*seg)), options);
  if (!heap.ok()) return heap.status();
  return std::unique_ptr<Client>(new Client(std::move(*heap)));
}

Client::Client(std::unique_ptr<shm::Heap> heap) : heap_(std::move(heap)) {}

Client::~Client() = default;

absl::StatusOr<uint64_t> Client::Purge() {
  heap_->FlushThreadCache();
  return shm::Purge(heap_->segment()).released_bytes;
}

}  // namespace shmpool
