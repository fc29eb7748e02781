// C++ allocators over a shmpool::Client, for standard containers whose memory lives in an
// arena:
//   MemoryResource  a std::pmr::memory_resource (std::pmr::vector, std::pmr::unordered_map,
//                   ... through std::pmr::polymorphic_allocator)
//   Allocator<T>    an STL allocator (std::vector<T, shmpool::Allocator<T>>, ...)
// Both hand out blocks of the client's arena aligned as asked (Client::AllocateAligned, up
// to the page size; more throws std::bad_alloc, as does an exhausted arena) and free them
// with Client::Free. They hold the Client by pointer: it must outlive every container that
// uses them. Two compare equal iff they use the same Client (one mapping of one arena:
// another client's mapping, even of the same arena, is at another address).
//
// The containers hold plain pointers, which are valid only in the process that built
// them (each process maps a segment at its own address). To share a container between
// processes, see shmpool/offset_allocator.h.
#pragma once

#include <cstddef>
#include <limits>
#include <memory_resource>
#include <new>
#include <type_traits>

#include "shmpool/client.h"

namespace shmpool {

class MemoryResource final : public std::pmr::memory_resource {
 public:
  explicit MemoryResource(Client& client) noexcept : client_(&client) {}
  Client& client() const noexcept { return *client_; }

 private:
  void* do_allocate(size_t bytes, size_t alignment) override {
    void* p = client_->AllocateAligned(alignment, bytes);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void do_deallocate(void* p, size_t, size_t) override { client_->Free(p); }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    const auto* o = dynamic_cast<const MemoryResource*>(&other);
    return o != nullptr && o->client_ == client_;
  }

  Client* client_;
};

namespace internal {
// n objects of `size` bytes aligned to `alignment` in c's arena; throws when there is none.
inline void* AllocateArray(Client& c, size_t n, size_t size, size_t alignment) {
  if (n > std::numeric_limits<size_t>::max() / size) throw std::bad_array_new_length();
  void* p = c.AllocateAligned(alignment, n * size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace internal

// Stateful: the Client. A container keeps its arena on copy assignment (the elements are
// copied into it) and takes the other's on move assignment and swap (the memory goes with
// the allocator, no element is copied between arenas); a copy-constructed container uses
// the same arena as the original.
template <class T>
class Allocator {
 public:
  using value_type = T;
  using propagate_on_container_copy_assignment = std::false_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  explicit Allocator(Client& client) noexcept : client_(&client) {}
  template <class U>
  Allocator(const Allocator<U>& other) noexcept : client_(&other.client()) {}

  T* allocate(size_t n) {
    return static_cast<T*>(internal::AllocateArray(*client_, n, sizeof(T), alignof(T)));
  }
  void deallocate(T* p, size_t) noexcept { client_->Free(p); }
  Client& client() const noexcept { return *client_; }

 private:
  Client* client_;
};

template <class T, class U>
bool operator==(const Allocator<T>& a, const Allocator<U>& b) noexcept {
  return &a.client() == &b.client();
}

}  // namespace shmpool
