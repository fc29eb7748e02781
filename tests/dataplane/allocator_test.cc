// The C++ allocator interface over a shmpool::Client: Client::Reallocate and
// Client::AllocateAligned, shmpool::MemoryResource under std::pmr containers,
// shmpool::Allocator<T> under standard containers (equality, propagation, alignment), and
// shmpool::OffsetAllocator<T>: containers built in the arena by one process, read and
// modified by a forked child that maps the segment at another address (the parent's
// mapping removed from it, so a plain pointer inside a container would fault there).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory_resource>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "boost/container/map.hpp"
#include "gtest/gtest.h"
#include "shm/alloc_policy.h"
#include "shm/stats.h"
#include "shm/validate.h"
#include "shmpool/allocator.h"
#include "shmpool/client.h"
#include "shmpool/offset_allocator.h"
#include "tests/support/fork_exits.h"
#include "tests/support/temp_segment.h"

namespace shmpool {
namespace {

class Allocators : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(seg_.segment(), nullptr);
    auto c = Client::AttachSegment(seg_.path());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
  }
  shm::ArenaStats Stats() const { return shm::CollectStats(*seg_.segment()); }
  std::string Validate() const {
    const shm::ValidationReport r = shm::Validate(*seg_.segment());
    return r.ok() ? "" : r.ToString();
  }
  // Whether [p, p + n) lies in the client's mapping of the arena.
  bool InArena(const void* p, size_t n) const {
    const char* base = client_->heap().segment().base();
    const uint64_t total = client_->heap().segment().sections().total;
    const char* b = static_cast<const char*>(p);
    return b >= base && b + n <= base + total;
  }
  // What a test leaves behind: nothing allocated, no bad free, a valid segment.
  void ExpectClean() const {
    const shm::ArenaStats s = Stats();
    EXPECT_EQ(s.allocated, 0u);
    EXPECT_EQ(s.invalid_frees + s.double_frees, 0u);
    EXPECT_EQ(Validate(), "");
  }

  testing::TempSegment seg_{32 << 20};
  std::unique_ptr<Client> client_;
};

TEST_F(Allocators, ClientReallocateAndAllocateAligned) {
  char* p = static_cast<char*>(client_->Reallocate(nullptr, 40));
  ASSERT_NE(p, nullptr);
  std::memcpy(p, "0123456789012345678901234567890123456789", 40);
  EXPECT_EQ(client_->Reallocate(p, 48), p);
  char* q = static_cast<char*>(client_->Reallocate(p, 5000));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);
  EXPECT_EQ(std::memcmp(q, "0123456789012345678901234567890123456789", 40), 0);
  EXPECT_EQ(client_->Reallocate(q, uint64_t{1} << 40), nullptr);
  EXPECT_EQ(std::memcmp(q, "0123456789012345678901234567890123456789", 40), 0);
  for (size_t align = 1; align <= shm::kMaxAlignment; align *= 2) {
    void* a = client_->AllocateAligned(align, 3 * align / 2 + 1);
    ASSERT_NE(a, nullptr) << align;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % align, 0u) << align;
    EXPECT_GE(client_->UsableSize(a), 3 * align / 2 + 1);
    client_->Free(a);
  }
  EXPECT_EQ(client_->AllocateAligned(3, 10), nullptr);
  EXPECT_EQ(client_->AllocateAligned(2 * shm::kMaxAlignment, 10), nullptr);
  client_->Free(q);
  ExpectClean();
}

TEST_F(Allocators, PmrContainersLiveInTheArena) {
  MemoryResource resource(*client_);
  {
    std::pmr::vector<uint64_t> v(&resource);
    for (uint64_t i = 0; i < 100000; ++i) v.push_back(i * 3);
    EXPECT_TRUE(InArena(v.data(), v.size() * sizeof(uint64_t)));
    EXPECT_GE(client_->UsableSize(v.data()), v.capacity() * sizeof(uint64_t));
    std::pmr::unordered_map<int, std::pmr::string> m(&resource);
    for (int i = 0; i < 5000; ++i)
      m.emplace(i, std::pmr::string(40, static_cast<char>('a' + i % 26)));
    for (const auto& [k, s] : m) {
      EXPECT_TRUE(InArena(&k, sizeof(k)));       // the node
      EXPECT_TRUE(InArena(s.data(), s.size()));  // the string's buffer
    }
    const shm::ArenaStats s = Stats();
    EXPECT_GE(s.nmalloc, 2u * 5000);
    EXPECT_GT(s.allocated, 100000u * sizeof(uint64_t));
    for (int i = 0; i < 5000; ++i)
      EXPECT_EQ(std::string_view(m.at(i)), std::string(40, 'a' + i % 26));
    for (uint64_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], i * 3);
  }
  ExpectClean();
}

TEST_F(Allocators, MemoryResourceAlignsAndComparesByClient) {
  MemoryResource resource(*client_);
  for (size_t align = 1; align <= shm::kMaxAlignment; align *= 2) {
    void* p = resource.allocate(100, align);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    EXPECT_TRUE(InArena(p, 100));
    resource.deallocate(p, 100, align);
  }
  EXPECT_THROW((void)resource.allocate(100, 2 * shm::kMaxAlignment), std::bad_alloc);
  EXPECT_THROW((void)resource.allocate(size_t{1} << 40), std::bad_alloc);
  auto other = Client::AttachSegment(seg_.path());  // the same arena, another mapping
  ASSERT_TRUE(other.ok()) << other.status();
  MemoryResource same(*client_), elsewhere(**other);
  EXPECT_TRUE(resource.is_equal(same));
  EXPECT_FALSE(resource.is_equal(elsewhere));
  EXPECT_FALSE(resource.is_equal(*std::pmr::new_delete_resource()));
  ExpectClean();
}

struct alignas(256) Wide {
  uint64_t v[4];
};

TEST_F(Allocators, StlAllocatorServesStandardContainers) {
  auto other = Client::AttachSegment(seg_.path());
  ASSERT_TRUE(other.ok()) << other.status();
  Client& second = **other;
  EXPECT_TRUE(Allocator<int>(*client_) == Allocator<double>(*client_));
  EXPECT_FALSE(Allocator<int>(*client_) == Allocator<int>(second));
  {
    std::vector<int, Allocator<int>> v{Allocator<int>(*client_)};
    for (int i = 0; i < 50000; ++i) v.push_back(i);
    EXPECT_TRUE(InArena(v.data(), v.size() * sizeof(int)));
    std::vector<Wide, Allocator<Wide>> wide{Allocator<Wide>(*client_)};
    for (uint64_t i = 0; i < 100; ++i) {
      wide.push_back(Wide{{i, i, i, i}});
      EXPECT_EQ(reinterpret_cast<uintptr_t>(wide.data()) % 256, 0u);
    }
    using Map = std::map<int, int, std::less<int>, Allocator<std::pair<const int, int>>>;
    Map m{Allocator<std::pair<const int, int>>(*client_)};
    for (int i = 0; i < 3000; ++i) m[i] = -i;
    for (const auto& kv : m) EXPECT_TRUE(InArena(&kv, sizeof(kv)));

    // Move assignment takes the other's memory and arena; copy assignment keeps the
    // target's arena; a copy uses the original's.
    std::vector<int, Allocator<int>> w{Allocator<int>(second)};
    w.assign(10, 7);
    const int* data = v.data();
    w = std::move(v);
    EXPECT_EQ(w.data(), data);
    EXPECT_TRUE(w.get_allocator() == Allocator<int>(*client_));
    std::vector<int, Allocator<int>> copy_target{Allocator<int>(second)};
    copy_target = w;
    EXPECT_TRUE(copy_target.get_allocator() == Allocator<int>(second));
    EXPECT_EQ(copy_target, w);
    std::vector<int, Allocator<int>> copy(w);
    EXPECT_TRUE(copy.get_allocator() == w.get_allocator());
    EXPECT_THROW(v.reserve(size_t{1} << 40), std::bad_alloc);
  }
  ExpectClean();
}

// The parent builds containers inside the arena with offset pointers and hands the child a
// ref; the child attaches on its own, drops the mapping it inherited (so only offsets can
// work), reads everything, modifies it in place and exits; the parent sees the changes,
// then grows and destroys the containers.
TEST_F(Allocators, OffsetContainersAreSharedWithAnotherProcess) {
  using Vec = std::vector<int64_t, OffsetAllocator<int64_t>>;
  using Map = boost::container::map<int, int64_t, std::less<int>,
                                    OffsetAllocator<std::pair<const int, int64_t>>>;
  struct Shared {
    Vec vec;
    Map map;
  };
  constexpr int kN = 20000;
  void* block = client_->Allocate(sizeof(Shared));
  ASSERT_NE(block, nullptr);
  Shared* shared =
      new (block) Shared{Vec(OffsetAllocator<int64_t>(*client_)),
                         Map(OffsetAllocator<std::pair<const int, int64_t>>(*client_))};
  for (int i = 0; i < kN; ++i) {
    shared->vec.push_back(i);
    shared->map.emplace(i, 2 * i);
  }
  const uint64_t ref = client_->RefOf(shared);
  const pid_t pid = fork();
  if (pid == 0) {
    testing::in_forked_child = true;
    int rc = 0;
    {
      auto mine = Client::AttachSegment(seg_.path());
      if (!mine.ok()) _exit(10);
      Shared* s = static_cast<Shared*>((*mine)->PtrOf(ref));
      if (s == nullptr || s == shared) _exit(11);  // must be another mapping
      const shm::Segment& inherited = client_->heap().segment();
      if (munmap(inherited.base(), inherited.sections().total) != 0) _exit(12);
      if (s->vec.size() != kN || s->map.size() != kN) _exit(13);
      for (int i = 0; i < kN; ++i) {
        if (s->vec[i] != i) rc = 14;
        auto it = s->map.find(i);
        if (it == s->map.end() || it->second != 2 * i) rc = 15;
        s->vec[i] = -s->vec[i];
        if (it != s->map.end()) it->second += 1;
      }
    }
    _exit(rc);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(shared->vec[i], -i);
    ASSERT_EQ(shared->map.at(i), 2 * i + 1);
  }
  for (int i = kN; i < 2 * kN; ++i) shared->vec.push_back(i);
  EXPECT_EQ(shared->vec.back(), 2 * kN - 1);
  shared->~Shared();
  client_->Free(block);
  ExpectClean();
}

}  // namespace
}  // namespace shmpool
