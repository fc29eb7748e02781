// OffsetAllocator<T>: an STL allocator over a shmpool::Client whose pointers are
// boost::interprocess::offset_ptr (needs Boost.Interprocess, header-only), for containers
// shared between processes.
//
// Each process maps a segment at its own address, so a plain pointer stored in a segment
// is valid only in the process that stored it. An offset_ptr stores the distance from
// itself to its target instead, which is the same in every mapping when both lie in the
// same segment. So a container whose object is placed in the arena (e.g. constructed in a
// block from Client::Allocate) and which allocates through an OffsetAllocator holds only
// offsets: another process finds it by ref (Client::PtrOf) and reads and writes its
// elements through its own mapping.
//
// The allocator's state, the Client, is a pointer of the process that built the container:
// only that process may allocate or free through it (grow, shrink, destroy the container).
// Other processes may read the container and modify its elements in place. Otherwise as
// shmpool::Allocator (shmpool/allocator.h): equality by Client, the same propagation.
#pragma once

#include <cstddef>
#include <type_traits>

#include "boost/interprocess/offset_ptr.hpp"
#include "shmpool/allocator.h"

namespace shmpool {

template <class T>
class OffsetAllocator {
 public:
  using value_type = T;
  using pointer = boost::interprocess::offset_ptr<T>;
  using const_pointer = boost::interprocess::offset_ptr<const T>;
  using void_pointer = boost::interprocess::offset_ptr<void>;
  using const_void_pointer = boost::interprocess::offset_ptr<const void>;
  using difference_type = typename pointer::difference_type;
  using size_type = size_t;
  using propagate_on_container_copy_assignment = std::false_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;
  template <class U>
  struct rebind {
    using other = OffsetAllocator<U>;
  };

  explicit OffsetAllocator(Client& client) noexcept : client_(&client) {}
  template <class U>
  OffsetAllocator(const OffsetAllocator<U>& other) noexcept : client_(&other.client()) {}

  pointer allocate(size_t n) {
    return pointer(static_cast<T*>(internal::AllocateArray(*client_, n, sizeof(T), alignof(T))));
  }
  void deallocate(pointer p, size_t) noexcept { client_->Free(p.get()); }
  Client& client() const noexcept { return *client_; }

 private:
  Client* client_;
};

template <class T, class U>
bool operator==(const OffsetAllocator<T>& a, const OffsetAllocator<U>& b) noexcept {
  return &a.client() == &b.client();
}

}  // namespace shmpool
