// Session tests against a private shmpoold: clients in other processes attach, allocate and
// free (across processes), and the daemon's stats, purge, delete and session tracking
// agree with what they did. Also many clients and RPCs at once.
#include <atomic>
#include <set>
#include <thread>

#include "harness.h"

namespace shmpool::testing {
namespace {

// Refs of an "ok REF..." reply, as one "free" command.
std::string FreeCommand(const std::string& reply) {
  std::vector<std::string> w = Words(reply);
  std::string cmd = "free";
  for (size_t i = 1; i < w.size(); ++i) cmd += " " + w[i];
  return cmd;
}

TEST(Sessions, StatsAgreeWithWhatClientsDidAndPurgeReleasesMemory) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "work", 256 << 20);
  auto a = AttachedWorker(d.endpoint(), "work");
  auto b = AttachedWorker(d.endpoint(), "work");

  // Peer credentials come from the kernel.
  v1::ArenaStats s = StatsOf(d, "work");
  ASSERT_EQ(s.clients_size(), 2);
  std::set<uint32_t> pids;
  for (const v1::ClientStats& c : s.clients()) {
    pids.insert(c.session().pid());
    EXPECT_EQ(c.session().uid(), getuid());
    EXPECT_EQ(c.session().gid(), getgid());
    EXPECT_EQ(c.session().state(), v1::Session::LIVE);
    EXPECT_EQ(c.session().client_name(), "shmpool_test_worker");  // the program name
  }
  EXPECT_EQ(pids,
            (std::set<uint32_t>{static_cast<uint32_t>(a->pid()), static_cast<uint32_t>(b->pid())}));
  EXPECT_EQ(s.attached_procs(), 2u);

  // A allocates 2000 blocks of 128 B and 20 large blocks of 1 MiB (exact sizes).
  const std::string small = a->Ask("alloc 128 2000");
  const std::string large = a->Ask("alloc 1048576 20");
  ASSERT_EQ(small.rfind("ok ", 0), 0u) << small;
  ASSERT_EQ(large.rfind("ok ", 0), 0u) << large;
  s = StatsOf(d, "work");
  EXPECT_EQ(s.allocated_bytes(), 2000u * 128 + 20u * (1 << 20));
  EXPECT_EQ(s.large_allocated_bytes(), 20u << 20);
  EXPECT_EQ(s.nmalloc(), 2020u);
  EXPECT_EQ(s.nfree(), 0u);
  EXPECT_GE(s.resident_bytes(), 20u << 20);
  bool found = false;
  for (const v1::SizeClassStats& c : s.size_classes())
    if (c.size() == 128) {
      found = true;
      EXPECT_EQ(c.allocated_bytes(), 2000u * 128);
      EXPECT_EQ(c.nmalloc(), 2000u);
      EXPECT_DOUBLE_EQ(c.internal_fragmentation(), 0.0);
    }
  EXPECT_TRUE(found);

  // B frees everything A allocated.
  ASSERT_EQ(b->Ask(FreeCommand(small)), "ok");
  ASSERT_EQ(b->Ask(FreeCommand(large)), "ok");
  s = StatsOf(d, "work");
  EXPECT_EQ(s.allocated_bytes(), 0u);
  EXPECT_EQ(s.nfree(), 2020u);
  EXPECT_EQ(s.invalid_frees() + s.double_frees(), 0u);

  // Both detach: their sessions end.
  ASSERT_EQ(a->Ask("detach"), "ok");
  ASSERT_EQ(b->Ask("detach"), "ok");
  ASSERT_TRUE(WaitForClients(d, "work", 0));
  EXPECT_EQ(StatsOf(d, "work").attached_procs(), 0u);

  // Purge through the daemon: st_blocks drops by at least the large blocks.
  const uint64_t before = BlocksOf(d.SegmentPath("work"));
  v1::PurgeArenaRequest req;
  req.set_name("arenas/work");
  v1::PurgeArenaResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(d.arenas().PurgeArena(&ctx, req, &resp).ok());
  const uint64_t after = BlocksOf(d.SegmentPath("work"));
  EXPECT_GE(resp.released_bytes(), 20u << 20);
  EXPECT_LE(after + (20u << 20), before) << "before " << before << " after " << after;
  EXPECT_EQ(resp.arenas(0).resident_bytes(), after);
  s = StatsOf(d, "work");
  EXPECT_EQ(s.purge_count(), 1u);
  EXPECT_EQ(s.purged_bytes(), resp.released_bytes());
  EXPECT_GE(s.retained_bytes(), 20u << 20);
  EXPECT_EQ(s.resident_bytes(), after);
}

TEST(Sessions, ClientPurgeGoesThroughTheDaemon) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "p", 64 << 20);
  auto w = AttachedWorker(d.endpoint(), "p");
  const std::string refs = w->Ask("alloc 65536 64");
  ASSERT_EQ(w->Ask(FreeCommand(refs)), "ok");
  const std::string reply = w->Ask("purge");
  ASSERT_EQ(reply.rfind("ok ", 0), 0u) << reply;
  EXPECT_GE(std::stoull(Words(reply)[1]), 4u << 20);
  EXPECT_NE(d.Log().find("event=arena_purged arena=p"), std::string::npos);
  EXPECT_EQ(StatsOf(d, "p").purge_count(), 1u);
}

TEST(Sessions, DeleteWithLiveClientsIsRefused) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "busy", 16 << 20);
  std::vector<std::unique_ptr<Child>> w;
  for (int i = 0; i < 3; ++i) w.push_back(AttachedWorker(d.endpoint(), "busy"));
  auto del = [&d]() {
    v1::DeleteArenaRequest req;
    req.set_name("arenas/busy");
    v1::DeleteArenaResponse resp;
    grpc::ClientContext ctx;
    return d.arenas().DeleteArena(&ctx, req, &resp);
  };
  grpc::Status st = del();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("3 clients are still attached"), std::string::npos)
      << st.error_message();
  // A client killed without detaching no longer counts.
  w[0]->Kill(SIGKILL);
  w[0]->Wait();
  st = del();
  EXPECT_NE(st.error_message().find("2 clients"), std::string::npos) << st.error_message();
  ASSERT_EQ(w[1]->Ask("detach"), "ok");
  st = del();
  EXPECT_NE(st.error_message().find("1 client is still attached"), std::string::npos)
      << st.error_message();
  ASSERT_EQ(w[2]->Ask("detach"), "ok");
  EXPECT_TRUE(del().ok());
}

TEST(Sessions, SessionEndsWhenTheClientDies) {
  TestDaemon d;
  d.Start();
  auto w = AttachedWorker(d.endpoint(), "default");
  ASSERT_TRUE(WaitForClients(d, "default", 1));
  w->Kill(SIGKILL);
  w->Wait();
  EXPECT_TRUE(WaitForClients(d, "default", 0));
  EXPECT_NE(d.Log().find("event=session_ended"), std::string::npos);
}

// A C program's exit handler registered before the attach frees what it held after the
// library's own exit-time clean-up (its thread-exit hook): the process exits normally,
// with its buffered output, and the arena holds nothing of it once its session ends.
TEST(Sessions, ExitHandlerFreesAfterTheLibrarysExitHook) {
  TestDaemon d;
  d.Start();
  auto w = AttachedWorker(d.endpoint(), "default");
  const std::string refs = w->Ask("alloc 64 300");
  ASSERT_EQ(refs.rfind("ok ", 0), 0u) << refs;
  std::string big = w->Ask("alloc 70000 3");
  ASSERT_EQ(big.rfind("ok ", 0), 0u) << big;
  EXPECT_EQ(w->Ask("exitfreeing" + refs.substr(2) + big.substr(2)), "atexit ok");
  EXPECT_EQ(w->Wait(), 0);
  ASSERT_TRUE(WaitForClients(d, "default", 0));
  EXPECT_EQ(StatsOf(d, "default").allocated_bytes(), 0u);
}

TEST(Sessions, AttachFailuresSayWhy) {
  TestDaemon d;
  d.Start();
  Child w({SHMPOOL_TEST_WORKER});
  std::string r = w.Ask("attach " + d.endpoint() + " nope");
  EXPECT_EQ(r.rfind("err -2 ", 0), 0u) << r;
  EXPECT_NE(r.find("does not exist"), std::string::npos) << r;
  r = w.Ask("attach unix:/nonexistent/shmpoold.sock default");  // after 5 s by default
  EXPECT_EQ(r.rfind("err -6 ", 0), 0u) << r;
  EXPECT_NE(r.find("unix:/nonexistent/shmpoold.sock within 5000 ms"), std::string::npos) << r;
  r = w.Ask("attach " + d.endpoint() + " Bad/Name");
  EXPECT_EQ(r.rfind("err -1 ", 0), 0u) << r;
  // The endpoint from the environment.
  setenv("SHMPOOL_ENDPOINT", d.endpoint().c_str(), 1);
  Child env_worker({SHMPOOL_TEST_WORKER});
  unsetenv("SHMPOOL_ENDPOINT");
  r = env_worker.Ask("attach - default");
  EXPECT_EQ(r.rfind("ok ", 0), 0u) << r;
}

// A client that starts while the daemon is down (a restart) waits for it, up to
// SHMPOOL_ATTACH_TIMEOUT_MS; 0 fails at once, and a bad value is refused.
TEST(Sessions, AttachWaitsForTheDaemonUpToTheAttachTimeout) {
  TestDaemon d;
  Child waiting({SHMPOOL_TEST_WORKER});
  std::string reply;
  std::thread attach([&] { reply = waiting.Ask("attach " + d.endpoint() + " default"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  d.Start();
  attach.join();
  EXPECT_EQ(reply.rfind("ok ", 0), 0u) << reply;

  d.Stop();
  setenv("SHMPOOL_ATTACH_TIMEOUT_MS", "0", 1);
  Child fast({SHMPOOL_TEST_WORKER});
  setenv("SHMPOOL_ATTACH_TIMEOUT_MS", "300", 1);
  Child short_wait({SHMPOOL_TEST_WORKER});
  setenv("SHMPOOL_ATTACH_TIMEOUT_MS", "soon", 1);
  Child bad({SHMPOOL_TEST_WORKER});
  unsetenv("SHMPOOL_ATTACH_TIMEOUT_MS");
  const auto t0 = std::chrono::steady_clock::now();
  std::string r = fast.Ask("attach " + d.endpoint() + " default");
  EXPECT_EQ(r.rfind("err -6 ", 0), 0u) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3)) << "did not fail fast";
  r = short_wait.Ask("attach " + d.endpoint() + " default");
  EXPECT_EQ(r.rfind("err -6 ", 0), 0u) << r;
  EXPECT_NE(r.find(d.endpoint() + " within 300 ms"), std::string::npos) << r;
  r = bad.Ask("attach " + d.endpoint() + " default");
  EXPECT_EQ(r.rfind("err -1 ", 0), 0u) << r;
  EXPECT_NE(r.find("SHMPOOL_ATTACH_TIMEOUT_MS"), std::string::npos) << r;
}

TEST(Sessions, ManyConcurrentClientsAndRpcs) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "crowd", 128 << 20);
  constexpr int kClients = 16;
  std::atomic<bool> done{false};
  std::atomic<int> rpc_errors{0}, rpcs{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      while (!done.load()) {
        v1::GetStatsResponse resp;
        grpc::ClientContext ctx;
        if (!d.stats().GetStats(&ctx, {}, &resp).ok()) ++rpc_errors;
        v1::ListArenasResponse list;
        grpc::ClientContext ctx2;
        if (!d.arenas().ListArenas(&ctx2, {}, &list).ok()) ++rpc_errors;
        rpcs += 2;
      }
    });
  std::vector<std::thread> admins;
  for (int t = 0; t < 2; ++t)
    admins.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string id = "tmp-" + std::to_string(t) + "-" + std::to_string(i);
        v1::CreateArenaRequest req;
        req.set_arena_id(id);
        req.mutable_arena()->set_capacity_bytes(1 << 20);
        v1::Arena a;
        grpc::ClientContext c1;
        if (!d.arenas().CreateArena(&c1, req, &a).ok()) ++rpc_errors;
        v1::DeleteArenaRequest del;
        del.set_name("arenas/" + id);
        v1::DeleteArenaResponse dr;
        grpc::ClientContext c2;
        if (!d.arenas().DeleteArena(&c2, del, &dr).ok()) ++rpc_errors;
      }
    });
  std::vector<std::unique_ptr<Child>> workers(kClients);
  std::vector<std::thread> starters;
  for (int i = 0; i < kClients; ++i)
    starters.emplace_back([&, i] { workers[i] = AttachedWorker(d.endpoint(), "crowd"); });
  for (auto& t : starters) t.join();
  ASSERT_TRUE(WaitForClients(d, "crowd", kClients));
  std::vector<std::thread> users;
  for (int i = 0; i < kClients; ++i)
    users.emplace_back([&, i] {
      const std::string refs = workers[i]->Ask("alloc " + std::to_string(16 * (i + 1)) + " 500");
      EXPECT_EQ(workers[i]->Ask(FreeCommand(refs)), "ok");
      EXPECT_EQ(workers[i]->Ask("hammer 200").rfind("ok ", 0), 0u);
      EXPECT_EQ(workers[i]->Ask("detach"), "ok");
    });
  for (auto& t : users) t.join();
  for (auto& t : admins) t.join();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(rpc_errors.load(), 0);
  EXPECT_GT(rpcs.load(), 0);
  ASSERT_TRUE(WaitForClients(d, "crowd", 0));
  const v1::ArenaStats s = StatsOf(d, "crowd");
  EXPECT_EQ(s.nmalloc(), s.nfree());
  EXPECT_EQ(s.allocated_bytes(), 0u);
  EXPECT_EQ(s.attached_procs(), 0u);
}

TEST(Sessions, WatchStatsStreamsAtTheInterval) {
  TestDaemon d;
  d.Start();
  v1::WatchStatsRequest req;
  req.set_name("arenas/default");
  req.mutable_interval()->set_nanos(20 * 1000 * 1000);
  grpc::ClientContext ctx;
  auto reader = d.stats().WatchStats(&ctx, req);
  const auto start = std::chrono::steady_clock::now();
  v1::GetStatsResponse resp;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(reader->Read(&resp));
    EXPECT_EQ(resp.arenas(0).name(), "arenas/default");
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(70));
  ctx.TryCancel();
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  req.mutable_interval()->set_nanos(1000);
  grpc::ClientContext ctx2;
  auto bad = d.stats().WatchStats(&ctx2, req);
  EXPECT_FALSE(bad->Read(&resp));
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace shmpool::testing
