// shmpool::Client: the C++ API of the client library. A Client is one process's
// attachment to one arena; Allocate and Free run inside the mapped segment (see
// shm/heap.h for the fast path). Errors are absl::Status; allocation returns nullptr.
//
// Attach goes through shmpoold: the daemon says where the arena's segment is, the client
// maps it itself and keeps a session stream open on a background thread until it is
// destroyed (detach). After Attach, allocation and free make no RPC and no syscall.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "shm/heap.h"
#include "shm/stats.h"

namespace shmpool {

namespace internal {
class DaemonLink;
}

class Client {
 public:
  // Attaches through the daemon at `endpoint` ("unix:PATH" or "HOST:PORT"; empty:
  // $SHMPOOL_ENDPOINT, else the default socket) to the arena `arena` (its id, e.g.
  // "default"). options.name is the client's name in the daemon's stats (default: the
  // program's name). UNAVAILABLE when the daemon cannot be reached or this build has no
  // gRPC.
  static absl::StatusOr<std::unique_ptr<Client>> Attach(const std::string& endpoint,
                                                        const std::string& arena,
                                                        const shm::AttachOptions& options = {});
  // Attaches directly to a segment file (no daemon).
  static absl::StatusOr<std::unique_ptr<Client>> AttachSegment(
      const std::string& path, const shm::AttachOptions& options = {});
  ~Client();

  void* Allocate(size_t size) { return heap_->Allocate(size); }
  void Free(void* p) { heap_->Free(p); }
  size_t UsableSize(const void* p) const { return heap_->UsableSize(p); }
  uint64_t RefOf(const void* p) const { return heap_->RefOf(p); }
  void* PtrOf(uint64_t ref) const { return heap_->PtrOf(ref); }

  // Returns this thread's cache and purges the arena (through the daemon when attached
  // through one); bytes released.
  absl::StatusOr<uint64_t> Purge();
  shm::ArenaStats Stats() const { return shm::CollectStats(heap_->segment()); }
  shm::Heap& heap() { return *heap_; }
  bool through_daemon() const { return link_ != nullptr; }

 private:
  Client(std::unique_ptr<shm::Heap> heap, std::unique_ptr<internal::DaemonLink> link);
  std::unique_ptr<shm::Heap> heap_;
  std::unique_ptr<internal::DaemonLink> link_;  // null when attached without the daemon
};

}  // namespace shmpool
