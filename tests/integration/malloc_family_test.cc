// The C ABI's realloc and aligned allocation across processes attached through shmpoold
// (shmpool_test_worker): blocks one process allocates aligned are aligned in the other's
// mapping too, the other resizes them (small to small, small to large) with their contents
// and the first frees what the other resized; the daemon's stats show every byte back and
// no refused free. And realloc of a block of a retired generation (after an arena reset)
// moves it into the current one with its contents.
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "harness.h"

namespace shmpool::testing {
namespace {

// The words after "ok" of a worker's reply, joined by spaces.
std::string Refs(const std::string& reply) {
  const std::vector<std::string> w = Words(reply);
  EXPECT_FALSE(w.empty() || w[0] != "ok") << reply;
  std::string out;
  for (size_t i = 1; i < w.size(); ++i) out += (i > 1 ? " " : "") + w[i];
  return out;
}

TEST(MallocFamily, AlignedBlocksAreResizedByAnotherProcess) {
  TestDaemon d;
  d.Start();
  ASSERT_NO_FATAL_FAILURE(CreateArena(d, "family", 64 << 20));
  std::unique_ptr<Child> a = AttachedWorker(d.endpoint(), "family");
  std::unique_ptr<Child> b = AttachedWorker(d.endpoint(), "family");
  for (int align : {16, 64, 256, 1024, 4096}) {
    const std::string refs = Refs(a->Ask("aalloc " + std::to_string(align) + " 100 8"));
    ASSERT_EQ(Words(refs).size(), 8u) << align;
    for (const std::string& addr : Words(Refs(b->Ask("addr " + refs))))
      EXPECT_EQ(std::stoull(addr) % align, 0u) << "aligned in the other mapping too: " << align;
    const std::string medium = Refs(b->Ask("realloc 100 5000 " + refs));
    ASSERT_EQ(a->Ask("check 5000 " + medium), "ok") << align;
    const std::string large = Refs(b->Ask("realloc 5000 200000 " + medium));
    ASSERT_EQ(a->Ask("check 200000 " + large), "ok") << align;
    const std::string back = Refs(a->Ask("realloc 200000 64 " + large));
    ASSERT_EQ(b->Ask("check 64 " + back), "ok") << align;
    ASSERT_EQ(a->Ask("free " + back), "ok");
  }
  const v1::ArenaStats s = StatsOf(d, "family");
  EXPECT_EQ(s.allocated_bytes(), 0u);
  EXPECT_EQ(s.large_allocated_bytes(), 0u);
  EXPECT_EQ(s.invalid_frees(), 0u);
  EXPECT_EQ(s.double_frees(), 0u);
  EXPECT_GE(s.large_nmalloc(), 5u * 8);
}

TEST(MallocFamily, ReallocMovesABlockOfARetiredGenerationIntoTheCurrentOne) {
  TestDaemon d;
  d.Start();
  ASSERT_NO_FATAL_FAILURE(CreateArena(d, "gens", 16 << 20));
  Child w({SHMPOOL_TEST_WORKER});
  ASSERT_EQ(w.Ask("attachseg " + d.SegmentPath("gens")).rfind("ok ", 0), 0u);
  const std::string old = Refs(w.Ask("talloc 512 10"));
  v1::ResetArenaRequest req;
  req.set_name("arenas/gens");
  v1::Arena reset;
  grpc::ClientContext ctx;
  ASSERT_TRUE(d.arenas().ResetArena(&ctx, req, &reset).ok());
  ASSERT_EQ(w.Ask("gen"), "ok 1 0");
  // 500 bytes fit the blocks' class: in the current generation they would stay in place.
  const std::string moved = Refs(w.Ask("realloc 512 500 " + old));
  for (const std::string& ref : Words(moved))
    EXPECT_EQ(std::stoull(ref) >> 48, 1u) << "a block of generation 1: " << ref;
  EXPECT_EQ(w.Ask("check 500 " + moved), "ok");
  EXPECT_EQ(w.Ask("gen"), "ok 1 10") << "the old blocks' frees were refused and counted";
  ASSERT_EQ(w.Ask("free " + moved), "ok");
  ASSERT_EQ(w.Ask("detach"), "ok");
  const v1::ArenaStats s = StatsOf(d, "gens");
  EXPECT_EQ(s.allocated_bytes(), 0u);
  EXPECT_EQ(s.invalid_frees() + s.double_frees(), 0u);
}

}  // namespace
}  // namespace shmpool::testing
