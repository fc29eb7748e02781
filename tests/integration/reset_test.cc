// Arena reset with clients attached, against a private shmpoold: workers attached and
// allocating (holding blocks tagged with their refs) while the arena is reset learn of it,
// allocate from the new generation afterwards, never see a block they hold overwritten,
// have their frees of old blocks refused and counted, and the retired segment file goes
// once nobody maps it. Also a reset while a client allocates flat out, a client attached
// without the daemon, pools re-created empty, pool changes racing resets, and daemon
// restarts after resets.
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "harness.h"
#include "shm/atomics.h"
#include "shm/segment.h"
#include "shmpool/v1/pool.grpc.pb.h"

namespace shmpool::testing {
namespace {

constexpr int kGenShift = 48;  // a ref's generation bits (client/include/shmpool/client.h)

grpc::Status Reset(TestDaemon& d, const std::string& id, v1::Arena* out) {
  v1::ResetArenaRequest req;
  req.set_name("arenas/" + id);
  grpc::ClientContext ctx;
  return d.arenas().ResetArena(&ctx, req, out);
}

// Creates pool `pool` of `count` objects of `size` bytes (and `headroom`) in arena `id`.
grpc::Status CreatePool(v1::PoolService::Stub& pools, const std::string& id,
                        const std::string& pool, uint64_t size, uint32_t count,
                        uint32_t headroom = 0) {
  v1::CreatePoolRequest req;
  req.set_arena("arenas/" + id);
  req.set_pool_id(pool);
  req.mutable_pool()->set_object_size(size);
  req.mutable_pool()->set_count(count);
  req.mutable_pool()->set_headroom(headroom);
  v1::Pool created;
  grpc::ClientContext ctx;
  return pools.CreatePool(&ctx, req, &created);
}

v1::Arena GetArena(TestDaemon& d, const std::string& id) {
  v1::GetArenaRequest req;
  req.set_name("arenas/" + id);
  v1::Arena a;
  grpc::ClientContext ctx;
  grpc::Status st = d.arenas().GetArena(&ctx, req, &a);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return a;
}

// The refs of an "ok REF..." reply.
std::vector<uint64_t> Refs(const std::string& reply) {
  EXPECT_EQ(reply.rfind("ok", 0), 0u) << reply;
  std::vector<std::string> w = Words(reply);
  std::vector<uint64_t> out;
  for (size_t i = 1; i < w.size(); ++i) out.push_back(std::stoull(w[i]));
  return out;
}

std::string Join(const std::string& cmd, const std::vector<uint64_t>& refs) {
  std::string out = cmd;
  for (uint64_t r : refs) absl::StrAppend(&out, " ", r);
  return out;
}

// Polls `ask` until it returns `want` (5 s at most); the last reply.
template <typename F>
std::string WaitForReply(F ask, const std::string& want) {
  std::string r;
  for (int i = 0; i < 100; ++i) {
    r = ask();
    if (r == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return r;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool WaitGone(const std::string& path) {
  for (int i = 0; i < 100 && Exists(path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return !Exists(path);
}

TEST(Reset, AttachedClientsFollowAndNoBlockIsHandedOutTwice) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "r", 64 << 20);
  auto a = AttachedWorker(d.endpoint(), "r");
  const std::vector<uint64_t> old = Refs(a->Ask("talloc 1024 40"));
  const std::vector<uint64_t> old_small = Refs(a->Ask("talloc 64 200"));
  ASSERT_EQ(a->Ask("gen"), "ok 0 0");
  const std::string region = a->Ask("region");
  ASSERT_EQ(region.rfind("ok ", 0), 0u) << region;
  const uint64_t before_region = std::stoull(Words(region)[1]);
  for (uint64_t r : old) ASSERT_EQ(r >> kGenShift, 0u) << "refs of generation 0 are offsets";

  v1::Arena reset;
  grpc::Status st = Reset(d, "r", &reset);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(reset.generation(), 1u);
  ASSERT_EQ(reset.retired_segments_size(), 1);
  const std::string retired = d.SegmentPath("r") + ".retired-0";
  EXPECT_EQ(reset.retired_segments(0).path(), retired);
  EXPECT_EQ(reset.retired_segments(0).generation(), 0u);
  EXPECT_EQ(reset.retired_segments(0).attached_clients(), 1u);
  EXPECT_TRUE(Exists(retired));

  // The daemon tells the client, which switches to generation 1.
  EXPECT_EQ(WaitForReply([&] { return a->Ask("gen"); }, "ok 1 0"), "ok 1 0");
  const std::vector<uint64_t> fresh = Refs(a->Ask("talloc 1024 40"));
  for (uint64_t r : fresh) EXPECT_EQ(r >> kGenShift, 1u) << "a block of the new generation";
  // Every block of either generation still holds its own tag: no new block overlaps one
  // the client holds from before the reset.
  EXPECT_EQ(a->Ask(Join("check 1024", old)), "ok");
  EXPECT_EQ(a->Ask(Join("check 64", old_small)), "ok");
  EXPECT_EQ(a->Ask(Join("check 1024", fresh)), "ok");
  std::vector<uint64_t> old_addr = Refs(a->Ask(Join("addr", old)));
  const std::vector<uint64_t> small_addr = Refs(a->Ask(Join("addr", old_small)));
  old_addr.insert(old_addr.end(), small_addr.begin(), small_addr.end());
  for (uint64_t f : Refs(a->Ask(Join("addr", fresh))))
    for (size_t i = 0; i < old_addr.size(); ++i) {
      const uint64_t size = i < old.size() ? 1024 : 64;
      EXPECT_TRUE(f + 1024 <= old_addr[i] || old_addr[i] + size <= f) << "blocks overlap";
    }

  // A client attached after the reset allocates from generation 1 too, never a block of
  // the first client, and finds no block behind a ref of the retired generation.
  auto b = AttachedWorker(d.endpoint(), "r");
  EXPECT_EQ(b->Ask("gen"), "ok 1 0");
  const std::vector<uint64_t> theirs = Refs(b->Ask("talloc 1024 40"));
  std::set<uint64_t> distinct(fresh.begin(), fresh.end());
  distinct.insert(theirs.begin(), theirs.end());
  EXPECT_EQ(distinct.size(), fresh.size() + theirs.size());
  EXPECT_EQ(a->Ask(Join("check 1024", fresh)), "ok");
  EXPECT_EQ(b->Ask(Join("check 1024", theirs)), "ok");
  EXPECT_EQ(b->Ask(Join("addr", {old[0]})), "ok 0");

  // Frees of retired blocks are refused and counted, never applied to generation 1 (whose
  // invalid and double free counters stay 0) nor to the retired one (the data stays).
  ASSERT_EQ(a->Ask(Join("free", old)), "ok");
  EXPECT_EQ(a->Ask("gen"), "ok 1 40");
  EXPECT_EQ(a->Ask(Join("check 1024", old)), "ok");
  v1::ArenaStats s = StatsOf(d, "r");
  EXPECT_EQ(s.invalid_frees(), 0u);
  EXPECT_EQ(s.double_frees(), 0u);
  EXPECT_EQ(s.allocated_bytes(), 2u * 40 * 1024) << "generation 1 holds only its own blocks";
  v1::Arena now = GetArena(d, "r");
  EXPECT_EQ(now.generation(), 1u);
  EXPECT_EQ(now.stale_frees(), 40u);
  ASSERT_EQ(now.retired_segments_size(), 1);
  EXPECT_EQ(now.retired_segments(0).attached_clients(), 1u);
  // Frees of its own blocks work as ever.
  ASSERT_EQ(a->Ask(Join("free", fresh)), "ok");
  EXPECT_EQ(StatsOf(d, "r").allocated_bytes(), 40u * 1024);

  // A region made before the reset no longer opens; one made after it does, anywhere.
  const std::string new_region = a->Ask("region");
  ASSERT_EQ(new_region.rfind("ok ", 0), 0u) << new_region;
  EXPECT_EQ(std::stoull(Words(new_region)[1]) >> kGenShift, 1u);
  EXPECT_EQ(b->Ask("regionopen " + Words(new_region)[1]), "ok");
  for (Child* w : {a.get(), b.get()})
    EXPECT_EQ(w->Ask("regionopen " + std::to_string(before_region)).rfind("err -2 ", 0), 0u);

  // The retired file goes once its last client detaches.
  EXPECT_TRUE(Exists(retired));
  ASSERT_EQ(a->Ask("detach"), "ok");
  EXPECT_TRUE(WaitGone(retired));
  EXPECT_EQ(GetArena(d, "r").retired_segments_size(), 0);
  ASSERT_EQ(b->Ask("detach"), "ok");
  const std::string log = d.Log();
  EXPECT_NE(log.find("event=arena_reset arena=r generation=1"), std::string::npos) << log;
  EXPECT_NE(log.find("event=sessions_told_of_reset arena=r generation=1 streams=1"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("event=retired_segment_removed arena=r generation=0"), std::string::npos);
}

// A client attached across a reset and killed -9 afterwards still holds a process record
// (and a cache of free blocks) in the retired generation, which another client keeps
// mapped: the daemon reclaims that record too, not only the one in the current generation.
TEST(Reset, ADeadClientOfARetiredGenerationIsReclaimed) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "dr", 64 << 20);
  auto a = AttachedWorker(d.endpoint(), "dr");
  auto b = AttachedWorker(d.endpoint(), "dr");
  // a's cache in generation 0 holds free blocks; b keeps generation 0 mapped.
  ASSERT_EQ(a->Ask(Join("free", Refs(a->Ask("alloc 64 20")))), "ok");
  ASSERT_EQ(b->Ask(Join("free", Refs(b->Ask("alloc 64 1")))), "ok");
  v1::Arena reset;
  grpc::Status st = Reset(d, "dr", &reset);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(reset.retired_segments_size(), 1);
  const std::string retired = d.SegmentPath("dr") + ".retired-0";
  for (Child* w : {a.get(), b.get()})
    ASSERT_EQ(WaitForReply([&] { return w->Ask("gen"); }, "ok 1 0"), "ok 1 0");

  absl::StatusOr<std::unique_ptr<shm::Segment>> seg = shm::Segment::Open(retired);
  ASSERT_TRUE(seg.ok()) << seg.status();
  auto state = [&](uint32_t i) { return (*seg)->proc(i).state(); };
  const uint32_t a_pid = static_cast<uint32_t>(a->pid());
  uint32_t a_index = ~0u;
  for (uint32_t i = 0; i < (*seg)->geometry().max_procs; ++i)
    if (state(i) == shm::ProcRecord::kLive && (*seg)->proc(i).pid == a_pid) a_index = i;
  ASSERT_NE(a_index, ~0u) << "a's record in generation 0";
  auto caches_of_a = [&] {
    int n = 0;
    for (uint32_t t = 0; t < (*seg)->geometry().max_thread_caches; ++t)
      n += shm::LoadAcquire((*seg)->cache_owner(t)) == shm::CacheOwnerOf(a_index);
    return n;
  };
  ASSERT_GT(caches_of_a(), 0);

  a->Kill(SIGKILL);
  a->Wait();
  // The reclaimer's audit (every second) or a's pidfd finds it: 5 s at most.
  for (int i = 0; i < 100 && state(a_index) != shm::ProcRecord::kFree; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(state(a_index), uint32_t{shm::ProcRecord::kFree})
      << "a's record in the retired generation was not reclaimed";
  EXPECT_EQ(caches_of_a(), 0);
  EXPECT_NE(d.Log().find("event=dead_client_reclaimed arena=dr generation=0 pid=" +
                         std::to_string(a_pid)),
            std::string::npos)
      << d.Log();
  EXPECT_TRUE(Exists(retired)) << "b still maps generation 0";
  seg->reset();
  ASSERT_EQ(b->Ask("detach"), "ok");
  EXPECT_TRUE(WaitGone(retired));
}

TEST(Reset, ResetsWhileClientsAllocateFlatOut) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "h", 64 << 20);
  auto a = AttachedWorker(d.endpoint(), "h");
  auto idle = AttachedWorker(d.endpoint(), "h");
  const std::vector<uint64_t> held = Refs(idle->Ask("talloc 256 100"));
  std::string hammered;
  std::thread t([&] { hammered = a->Ask("hammer 1500"); });
  for (int i = 1; i <= 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    v1::Arena r;
    grpc::Status st = Reset(d, "h", &r);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(r.generation(), static_cast<uint64_t>(i));
  }
  t.join();
  ASSERT_EQ(hammered.rfind("ok ", 0), 0u) << hammered;
  EXPECT_GT(std::stoull(Words(hammered)[1]), 0u);
  std::vector<std::string> ga;
  for (int i = 0; i < 100 && (ga.size() != 3 || ga[1] != "3"); ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ga = Words(a->Ask("gen"));
  }
  ASSERT_EQ(ga.size(), 3u);
  EXPECT_EQ(ga[1], "3");
  EXPECT_EQ(WaitForReply([&] { return idle->Ask("gen"); }, "ok 3 0"), "ok 3 0");
  EXPECT_EQ(idle->Ask(Join("check 256", held)), "ok") << "a held block of generation 0";
  v1::ArenaStats s = StatsOf(d, "h");
  EXPECT_EQ(s.invalid_frees(), 0u);
  EXPECT_EQ(s.double_frees(), 0u);
  // Both clients re-registered with the daemon at generation 3.
  EXPECT_TRUE(WaitForClients(d, "h", 2));
  // Each keeps the generations it mapped until it releases them (a client told of two
  // resets at once maps only the newer: 1 to 3 retired generations each).
  const int kept = GetArena(d, "h").retired_segments_size();
  EXPECT_GE(kept, 1);
  EXPECT_LE(kept, 3);
  for (Child* w : {a.get(), idle.get()}) {
    const std::vector<std::string> rel = Words(w->Ask("release"));
    ASSERT_EQ(rel.size(), 2u);
    EXPECT_GE(std::stoi(rel[1]), 1);
    EXPECT_LE(std::stoi(rel[1]), 3);
  }
  for (int g = 0; g < 3; ++g)
    EXPECT_TRUE(WaitGone(d.SegmentPath("h") + ".retired-" + std::to_string(g))) << g;
  EXPECT_EQ(idle->Ask(Join("addr", {held[0]})), "ok 0") << "released: no block behind it";
  ASSERT_EQ(a->Ask("detach"), "ok");
  ASSERT_EQ(idle->Ask("detach"), "ok");
}

TEST(Reset, ClientWithoutDaemonFollowsFromTheSegmentHeader) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "direct", 16 << 20);
  Child w({SHMPOOL_TEST_WORKER});
  ASSERT_EQ(w.Ask("attachseg " + d.SegmentPath("direct")).rfind("ok ", 0), 0u);
  const std::vector<uint64_t> old = Refs(w.Ask("talloc 512 10"));
  v1::Arena r;
  ASSERT_TRUE(Reset(d, "direct", &r).ok());
  // No session told it: shmpool_generation reads the retired mark and follows.
  EXPECT_EQ(w.Ask("gen"), "ok 1 0");
  const std::vector<uint64_t> fresh = Refs(w.Ask("talloc 512 10"));
  EXPECT_EQ(fresh[0] >> kGenShift, 1u);
  EXPECT_EQ(w.Ask(Join("check 512", old)), "ok");
  ASSERT_EQ(w.Ask(Join("free", old)), "ok");
  EXPECT_EQ(w.Ask("gen"), "ok 1 10");
  EXPECT_EQ(GetArena(d, "direct").stale_frees(), 10u);
  const std::string retired = d.SegmentPath("direct") + ".retired-0";
  EXPECT_TRUE(Exists(retired)) << "the direct client still maps it";
  ASSERT_EQ(w.Ask("detach"), "ok");
  EXPECT_TRUE(WaitGone(retired));
}

TEST(Reset, PoolsAreRecreatedEmpty) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "p", 16 << 20);
  auto pools = v1::PoolService::NewStub(d.channel());
  grpc::Status st = CreatePool(*pools, "p", "pkts", 256, 100, 64);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::Arena r;
  ASSERT_TRUE(Reset(d, "p", &r).ok());
  EXPECT_EQ(r.generation(), 1u);
  EXPECT_TRUE(r.retired_segments().empty()) << "nobody mapped generation 0: unlinked at once";
  EXPECT_FALSE(Exists(d.SegmentPath("p") + ".retired-0"));
  v1::ListPoolsRequest lreq;
  lreq.set_arena("arenas/p");
  v1::ListPoolsResponse list;
  grpc::ClientContext lctx;
  ASSERT_TRUE(pools->ListPools(&lctx, lreq, &list).ok());
  ASSERT_EQ(list.pools_size(), 1);
  EXPECT_EQ(list.pools(0).name(), "arenas/p/pools/pkts");
  EXPECT_EQ(list.pools(0).object_size(), 256u);
  EXPECT_EQ(list.pools(0).headroom(), 64u);
  EXPECT_EQ(list.pools(0).count(), 100u);
  EXPECT_EQ(list.pools(0).free(), 100u);
  EXPECT_EQ(list.pools(0).in_use(), 0u);
}

// Pools created and deleted while the arena is reset over and over: each change lands in
// the generation that is current afterwards, none in a generation retired under it.
TEST(Reset, PoolChangesRacingResetsLandInTheCurrentGeneration) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "race", 64 << 20);
  auto pools = v1::PoolService::NewStub(d.channel());
  std::atomic<bool> done{false};
  std::atomic<int> resets{0};
  std::thread resetter([&] {
    for (int i = 0; !done; ++i) {
      v1::Arena r;
      EXPECT_TRUE(Reset(d, "race", &r).ok()) << i;
      resets.fetch_add(1);
    }
  });
  constexpr int kPools = 30;
  for (int i = 0; i < kPools; ++i) {
    // Half the pool changes wait for a reset to finish, so that resets land among the
    // pool changes however the threads are scheduled.
    while (i == kPools / 2 && resets.load() == 0) std::this_thread::yield();
    grpc::Status st = CreatePool(*pools, "race", absl::StrCat("p", i), 64, 64);
    ASSERT_TRUE(st.ok()) << st.error_message();
    if (i % 3 == 0) {  // and every third deleted again
      v1::DeletePoolRequest dreq;
      dreq.set_name("arenas/race/pools/p" + std::to_string(i));
      v1::DeletePoolResponse dresp;
      grpc::ClientContext dctx;
      st = pools->DeletePool(&dctx, dreq, &dresp);
      ASSERT_TRUE(st.ok()) << st.error_message();
    }
  }
  done = true;
  resetter.join();
  v1::ListPoolsRequest lreq;
  lreq.set_arena("arenas/race");
  v1::ListPoolsResponse list;
  grpc::ClientContext lctx;
  ASSERT_TRUE(pools->ListPools(&lctx, lreq, &list).ok());
  std::set<std::string> have, want;
  for (const v1::Pool& p : list.pools()) have.insert(p.name());
  for (int i = 0; i < kPools; ++i)
    if (i % 3 != 0) want.insert("arenas/race/pools/p" + std::to_string(i));
  EXPECT_EQ(have, want);
  EXPECT_GT(GetArena(d, "race").generation(), 0u);
}

TEST(Reset, NextGenerationKeepsOwnerModeQuotaAndGeometry) {
  TestDaemon d;
  d.Start();
  // As root, give the arena to another tenant (nobody); else to ourselves.
  const uint32_t owner = geteuid() == 0 ? 65534 : getuid();
  const uint32_t group = geteuid() == 0 ? 65534 : getgid();
  v1::CreateArenaRequest req;
  req.set_arena_id("t");
  req.mutable_arena()->set_capacity_bytes(8 << 20);
  req.mutable_arena()->set_quota_bytes(4 << 20);
  req.mutable_arena()->set_owner_uid(owner);
  req.mutable_arena()->set_group_gid(group);
  req.mutable_arena()->set_max_procs(64);
  v1::Arena created;
  grpc::ClientContext ctx;
  grpc::Status st = d.arenas().CreateArena(&ctx, req, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::Arena r;
  ASSERT_TRUE(Reset(d, "t", &r).ok());
  struct stat s {};
  ASSERT_EQ(stat(d.SegmentPath("t").c_str(), &s), 0);
  EXPECT_EQ(s.st_uid, owner);
  EXPECT_EQ(s.st_gid, group);
  EXPECT_EQ(s.st_mode & 0777, 0660u);
  EXPECT_EQ(r.quota_bytes(), 4u << 20);
  EXPECT_EQ(r.capacity_bytes(), 8u << 20);
  EXPECT_EQ(r.max_procs(), 64u);
  EXPECT_EQ(r.segment_bytes(), created.segment_bytes());
  EXPECT_EQ(r.generation(), 1u);
}

TEST(Reset, RestartAfterResetsAdoptsTheGenerationAndCleansUp) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "k", 16 << 20);
  auto a = AttachedWorker(d.endpoint(), "k");
  auto c = AttachedWorker(d.endpoint(), "k");
  const std::vector<uint64_t> old = Refs(a->Ask("talloc 128 10"));
  v1::Arena r;
  ASSERT_TRUE(Reset(d, "k", &r).ok());
  ASSERT_EQ(WaitForReply([&] { return a->Ask("gen"); }, "ok 1 0"), "ok 1 0");
  ASSERT_EQ(WaitForReply([&] { return c->Ask("gen"); }, "ok 1 0"), "ok 1 0");
  const std::string retired0 = d.SegmentPath("k") + ".retired-0";
  const std::string retired1 = d.SegmentPath("k") + ".retired-1";

  // Restart while both still map generation 0: a releases it while no daemon runs.
  ASSERT_EQ(d.Stop(), 0);
  EXPECT_TRUE(Exists(retired0));
  EXPECT_EQ(a->Ask("release"), "ok 1");
  d.Start();
  v1::Arena k = GetArena(d, "k");
  EXPECT_TRUE(k.adopted());
  EXPECT_EQ(k.generation(), 1u) << "the generation survives a restart";
  ASSERT_EQ(k.retired_segments_size(), 1) << "c still maps generation 0";
  EXPECT_EQ(k.retired_segments(0).generation(), 0u);
  EXPECT_EQ(k.retired_segments(0).attached_clients(), 1u);
  EXPECT_NE(d.Log().find("event=retired_segment_kept arena=k generation=0"), std::string::npos);
  EXPECT_TRUE(WaitForClients(d, "k", 2, 20)) << "both re-registered";

  // A reset after the restart works and reaches both.
  ASSERT_TRUE(Reset(d, "k", &r).ok());
  EXPECT_EQ(r.generation(), 2u);
  EXPECT_EQ(WaitForReply([&] { return a->Ask("gen"); }, "ok 2 0"), "ok 2 0");
  EXPECT_EQ(WaitForReply([&] { return c->Ask("gen"); }, "ok 2 0"), "ok 2 0");

  // Restart with retired files nobody maps any more: a released them, c died.
  ASSERT_EQ(d.Stop(), 0);
  EXPECT_EQ(a->Ask("release"), "ok 1");
  c->Kill(SIGKILL);
  c->Wait();
  EXPECT_TRUE(Exists(retired0));
  EXPECT_TRUE(Exists(retired1));
  d.Start();
  EXPECT_FALSE(Exists(retired0)) << "removed at start-up";
  EXPECT_FALSE(Exists(retired1)) << "removed at start-up";
  k = GetArena(d, "k");
  EXPECT_EQ(k.generation(), 2u);
  EXPECT_EQ(k.retired_segments_size(), 0);
  EXPECT_TRUE(WaitForClients(d, "k", 1, 20));
  const std::vector<uint64_t> now = Refs(a->Ask("talloc 128 10"));
  EXPECT_EQ(now[0] >> kGenShift, 2u);
  EXPECT_EQ(a->Ask(Join("check 128", now)), "ok");
  EXPECT_EQ(a->Ask(Join("addr", {old[0]})), "ok 0") << "generation 0 was released";
  ASSERT_EQ(a->Ask("detach"), "ok");
}

TEST(Reset, DeleteWaitsForClientsOfRetiredGenerations) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "gone", 16 << 20);
  Child w({SHMPOOL_TEST_WORKER});
  ASSERT_EQ(w.Ask("attachseg " + d.SegmentPath("gone")).rfind("ok ", 0), 0u);
  v1::Arena r;
  ASSERT_TRUE(Reset(d, "gone", &r).ok());
  // The direct client has not followed: it maps only the retired generation.
  v1::DeleteArenaRequest req;
  req.set_name("arenas/gone");
  v1::DeleteArenaResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = d.arenas().DeleteArena(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("1 client still maps its generation 0"), std::string::npos)
      << st.error_message();
  ASSERT_EQ(w.Ask("detach"), "ok");
  grpc::ClientContext ctx2;
  st = d.arenas().DeleteArena(&ctx2, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(Exists(d.SegmentPath("gone") + ".retired-0"));
}

}  // namespace
}  // namespace shmpool::testing
