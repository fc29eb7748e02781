// shm_containers: a vector and a map that live in a shmpool arena and are read by another
// process, through an allocator adaptor in the manner of Boost.Interprocess's.
//
//   shm_containers [SEGMENT_PATH]   (default: a fresh file in /dev/shm, removed afterwards)
//
// The parent attaches to a segment (directly, no daemon, so the example runs anywhere),
// builds a boost::container::vector<int> and a boost::container::map<int, int> whose
// memory comes from the arena, and forks a child that attaches on its own (at another
// address: a fresh mapping) and reads them from the container object's shmpool_ref.
//
// Restrictions, which every offset-based shared container shares:
//   - Pointers inside the containers are boost::interprocess::offset_ptr (relative to their
//     own address), never raw pointers: the mapping's address differs per process.
//     libstdc++'s std::vector and std::map do not carry a fancy pointer type through all of
//     their internals, so the example uses Boost.Container's, which do.
//   - The allocator is stateless: it allocates through the process's current client
//     (g_client), so a container stored in the segment holds no
//     process-local pointer. Every process that touches the container must set it.
//   - Element types must themselves be position independent (no raw pointers, no
//     std::string; use the same allocator for nested containers).
//   - No locking: one writer at a time, readers only while no one writes (as for any
//     container shared between threads).
//   - Virtual functions and RTTI in shared objects are unsafe across processes (vtables are
//     per-process addresses).
#include <sys/wait.h>
#include <unistd.h>

#include <boost/container/map.hpp>
#include <boost/container/vector.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#include <cstdio>
#include <functional>
#include <new>
#include <string>

#include "shm/segment.h"
#include "shmpool/client.h"

// This process's attachment, used by every ShmAllocator<T> (one for all T: containers
// rebind the allocator to their node types).
shmpool::Client* g_client = nullptr;

template <typename T>
struct ShmAllocator {
  using value_type = T;
  using pointer = boost::interprocess::offset_ptr<T>;
  using const_pointer = boost::interprocess::offset_ptr<const T>;
  using void_pointer = boost::interprocess::offset_ptr<void>;
  using const_void_pointer = boost::interprocess::offset_ptr<const void>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  template <typename U>
  struct rebind {
    using other = ShmAllocator<U>;
  };

  ShmAllocator() = default;
  template <typename U>
  ShmAllocator(const ShmAllocator<U>&) {}

  pointer allocate(size_type n) {
    void* p = g_client->Allocate(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return pointer(static_cast<T*>(p));
  }
  void deallocate(pointer p, size_type) { g_client->Free(p.get()); }
  template <typename U>
  bool operator==(const ShmAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const ShmAllocator<U>&) const {
    return false;
  }
};

using ShmVector = boost::container::vector<int, ShmAllocator<int>>;
using ShmMap =
    boost::container::map<int, int, std::less<int>, ShmAllocator<std::pair<const int, int>>>;

struct Shared {  // lives in the arena
  ShmVector squares;
  ShmMap cubes;
};

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "/dev/shm/shmpool-containers-" + std::to_string(getpid());
  const bool fresh = argc <= 1;
  if (fresh) {
    shmpool::shm::Geometry g;
    g.capacity = 64 << 20;
    auto seg = shmpool::shm::Segment::Create(path, g);
    if (!seg.ok()) {
      std::fprintf(stderr, "%s\n", std::string(seg.status().message()).c_str());
      return 1;
    }
  }
  auto client = shmpool::Client::AttachSegment(path);
  if (!client.ok()) {
    std::fprintf(stderr, "attach: %s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  g_client = client->get();
  void* mem = (*client)->Allocate(sizeof(Shared));
  Shared* shared = new (mem) Shared();
  for (int i = 0; i < 1000; ++i) {
    shared->squares.push_back(i * i);
    shared->cubes.emplace(i, i * i * i);
  }
  const uint64_t ref = (*client)->RefOf(shared);

  const pid_t child = fork();
  if (child == 0) {
    // A child must attach anew (a Heap refuses to work in a forked child): another mapping.
    auto mine = shmpool::Client::AttachSegment(path);
    if (!mine.ok()) _exit(2);
    g_client = mine->get();
    const auto* s = static_cast<const Shared*>((*mine)->PtrOf(ref));
    long long sum = 0;
    for (int v : s->squares) sum += v;
    const bool ok = s->squares.size() == 1000 && sum == 332833500 && s->cubes.size() == 1000 &&
                    s->cubes.at(10) == 1000 && s->cubes.at(999) == 997002999;
    std::printf(
        "child: mapped at %p (parent's object at ref %llu): %zu squares summing to %lld, "
        "cubes[10] = %d: %s\n",
        static_cast<const void*>(s), static_cast<unsigned long long>(ref), s->squares.size(), sum,
        s->cubes.at(10), ok ? "ok" : "WRONG");
    std::fflush(stdout);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  shared->~Shared();  // gives every block back to the arena
  (*client)->Free(mem);
  client->reset();
  if (fresh) unlink(path.c_str());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
