// shmpool::Client: the C++ API of the client library. A Client is one process's
// attachment to one arena; Allocate and Free run inside the mapped segment (see
// shm/heap.h for the fast path). Errors are absl::Status; allocation returns nullptr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "shm/heap.h"
#include "shm/stats.h"

namespace shmpool {

class Client {
 public:
  // Attaches directly to a segment file (no daemon).
  static absl::StatusOr<std::unique_ptr<Client>> AttachSegment(
      const std::string& path, const shm::AttachOptions& options = {});
  ~Client();

  void* Allocate(size_t size) { return heap_->Allocate(size); }
  void Free(void* p) { heap_->Free(p); }
  size_t UsableSize(const void* p) const { return heap_->UsableSize(p); }
  uint64_t RefOf(const void* p) const { return heap_->RefOf(p); }
  void* PtrOf(uint64_t ref) const { return heap_->PtrOf(ref); }

  // Returns this thread's cache and purges the arena; bytes released.
  absl::StatusOr<uint64_t> Purge();
  shm::ArenaStats Stats() const { return shm::CollectStats(heap_->segment()); }
  shm::Heap& heap() { return *heap_; }

 private:
  explicit Client(std::unique_ptr<shm::Heap> heap);
  std::unique_ptr<shm::Heap> heap_;
};

}  // namespace shmpool
