#include "server/core/arena_registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "server/core/test_fakes.h"
#include "shm/heap.h"

namespace shmpool::server {
namespace {

using testing::TempRegistry;

TEST(ArenaRegistry, CreateGetListDelete) {
  TempRegistry r;
  ASSERT_NE(r.Create("b", 1000, 100), nullptr);
  ASSERT_NE(r.Create("a", 1000, 100), nullptr);
  std::vector<ArenaPtr> all = r.arenas->List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->spec.id, "a") << "in id order";
  absl::StatusOr<ArenaPtr> a = r.arenas->Get("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->uid, 1000u);
  EXPECT_EQ((*a)->gid, 100u);
  struct stat st {};
  ASSERT_EQ(stat(r.arenas->SegmentPath("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_TRUE(
      absl::IsAlreadyExists(r.arenas->Create(ArenaSpec{.id = "a", .capacity = 1 << 20}).status()));
  EXPECT_TRUE(r.arenas->Delete("a").ok());
  EXPECT_TRUE(absl::IsNotFound(r.arenas->Get("a").status()));
  EXPECT_NE(stat(r.arenas->SegmentPath("a").c_str(), &st), 0) << "the file is gone";
}

TEST(ArenaRegistry, ARecreatedArenaIsANewIncarnation) {
  TempRegistry r;
  const uint64_t first = r.Create("a", 0, 0)->generation;
  ASSERT_TRUE(r.arenas->Delete("a").ok());
  EXPECT_GT(r.Create("a", 0, 0)->generation, first);
}

TEST(ArenaRegistry, ResetGivesTheNextGenerationAndKeepsTheSpec) {
  TempRegistry r;
  const ArenaPtr before = r.Create("a", 1000, 100);
  ASSERT_NE(before, nullptr);
  absl::StatusOr<ArenaPtr> after = r.arenas->Reset("a");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->arena_generation(), before->arena_generation() + 1);
  EXPECT_NE((*after)->generation, before->generation);
  EXPECT_EQ((*after)->uid, 1000u);
  EXPECT_EQ((*after)->spec.capacity, before->spec.capacity);
  EXPECT_TRUE((*after)->retired.empty()) << "no live process mapped the old one";
}

TEST(ArenaRegistry, DeleteIsRefusedWhileAClientIsAttached) {
  TempRegistry r;
  const ArenaPtr a = r.Create("a", 0, 0);
  ASSERT_NE(a, nullptr);
  absl::StatusOr<std::unique_ptr<shm::Heap>> h = shm::Heap::Attach(a->segment);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(r.arenas->LiveClients(*a), 1u);
  const absl::Status st = r.arenas->Delete("a");
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_EQ(st.message(),
            "cannot delete arena \"a\": 1 client is still attached (detach them first)");
  h->reset();
  EXPECT_EQ(r.arenas->LiveClients(*a), 0u);
  EXPECT_TRUE(r.arenas->Delete("a").ok());
}

TEST(ArenaRegistry, AnAttachingSessionCountsAsALiveClient) {
  TempRegistry r;
  const ArenaPtr a = r.Create("a", 0, 0);
  ASSERT_NE(a, nullptr);
  // This process: attaching, and alive.
  ASSERT_TRUE(r.sessions.Begin("a", a->generation, "", testing::Local(0, 0, getpid())).ok());
  EXPECT_EQ(r.arenas->LiveClients(*a), 1u);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.arenas->Delete("a")));
}

TEST(ArenaRegistry, MaxArenasIsResourceExhausted) {
  TempRegistry r(Limits{.max_arenas = 2});
  ASSERT_NE(r.Create("a", 0, 0), nullptr);
  ASSERT_NE(r.Create("b", 0, 0), nullptr);
  const absl::Status st = r.arenas->Create(ArenaSpec{.id = "c", .capacity = 1 << 20}).status();
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
}

TEST(ArenaRegistry, UpdateQuotaReplacesTheRecord) {
  TempRegistry r;
  const ArenaPtr before = r.Create("a", 0, 0);
  absl::StatusOr<ArenaPtr> after = r.arenas->UpdateQuota("a", 1 << 16);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->spec.quota, uint64_t{1} << 16);
  EXPECT_EQ(before->spec.quota, 0u) << "records are immutable";
}

TEST(ArenaRegistry, AdoptExistingTakesBackTheArenasOfAPreviousDaemon) {
  TempRegistry r;
  ASSERT_NE(r.Create("a", 1000, 100), nullptr);
  SessionRegistry sessions(8);
  ArenaRegistry next(r.dir, Limits{}, &sessions);
  EXPECT_EQ(next.AdoptExisting(), 1);
  absl::StatusOr<ArenaPtr> a = next.Get("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE((*a)->adopted);
  EXPECT_EQ((*a)->uid, 1000u);
  EXPECT_EQ((*a)->quarantine, nullptr);
}

}  // namespace
}  // namespace shmpool::server
