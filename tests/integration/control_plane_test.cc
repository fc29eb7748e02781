// Control-plane tests against a private shmpoold: the arena API and its errors, health and
// reflection, the lock that keeps a second daemon off the socket, and restart adoption.
#include <sys/stat.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "harness.h"

namespace shmpool::testing {
namespace {

using grpc::StatusCode;

grpc::Status Create(TestDaemon& d, const std::string& id, uint64_t capacity, uint64_t quota = 0,
                    v1::Arena* out = nullptr) {
  v1::CreateArenaRequest req;
  req.set_arena_id(id);
  req.mutable_arena()->set_capacity_bytes(capacity);
  req.mutable_arena()->set_quota_bytes(quota);
  v1::Arena resp;
  grpc::ClientContext ctx;
  grpc::Status st = d.arenas().CreateArena(&ctx, req, &resp);
  if (out) *out = resp;
  return st;
}

grpc::Status Get(TestDaemon& d, const std::string& name, v1::Arena* out = nullptr) {
  v1::GetArenaRequest req;
  req.set_name(name);
  v1::Arena resp;
  grpc::ClientContext ctx;
  grpc::Status st = d.arenas().GetArena(&ctx, req, &resp);
  if (out) *out = resp;
  return st;
}

grpc::Status Delete(TestDaemon& d, const std::string& name) {
  v1::DeleteArenaRequest req;
  req.set_name(name);
  v1::DeleteArenaResponse resp;
  grpc::ClientContext ctx;
  return d.arenas().DeleteArena(&ctx, req, &resp);
}

// Expects `st` to carry `code` and a message containing `words`.
void ExpectError(const grpc::Status& st, StatusCode code, const std::string& words) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_NE(st.error_message().find(words), std::string::npos)
      << "message \"" << st.error_message() << "\" lacks \"" << words << "\"";
}

TEST(ControlPlane, DefaultArenaIsServed) {
  TestDaemon d;
  d.Start();
  v1::Arena a;
  ASSERT_TRUE(Get(d, "arenas/default", &a).ok());
  EXPECT_EQ(a.capacity_bytes(), uint64_t{1} << 30);
  EXPECT_EQ(a.segment_path(), d.SegmentPath("default"));
  EXPECT_LT(BlocksOf(a.segment_path()), uint64_t{64} << 20) << "the default arena is sparse";
}

TEST(ControlPlane, ArenaLifecycle) {
  TestDaemon d;
  d.Start();
  v1::Arena a;
  ASSERT_TRUE(Create(d, "t1", 64 << 20, 1 << 20, &a).ok());
  EXPECT_EQ(a.name(), "arenas/t1");
  EXPECT_EQ(a.quota_bytes(), 1u << 20);
  EXPECT_EQ(a.segment_path(), d.SegmentPath("t1"));
  struct stat st {};
  ASSERT_EQ(stat(a.segment_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  v1::ListArenasResponse list;
  grpc::ClientContext ctx;
  ASSERT_TRUE(d.arenas().ListArenas(&ctx, {}, &list).ok());
  ASSERT_EQ(list.arenas_size(), 2);
  EXPECT_EQ(list.arenas(0).name(), "arenas/default");
  EXPECT_EQ(list.arenas(1).name(), "arenas/t1");

  v1::ResetArenaRequest reset;
  reset.set_name("arenas/t1");
  grpc::ClientContext rctx;
  ASSERT_TRUE(d.arenas().ResetArena(&rctx, reset, &a).ok());
  EXPECT_EQ(a.quota_bytes(), 1u << 20);

  ASSERT_TRUE(Delete(d, "arenas/t1").ok());
  EXPECT_NE(stat(d.SegmentPath("t1").c_str(), &st), 0) << "segment file still there";
  ExpectError(Get(d, "arenas/t1"), StatusCode::NOT_FOUND, "\"t1\" does not exist");
}

TEST(ControlPlane, SharedOwnerMakesGroupReadableSegment) {
  TestDaemon d;
  d.Start();
  v1::CreateArenaRequest req;
  req.set_arena_id("shared");
  req.mutable_arena()->set_capacity_bytes(4 << 20);
  req.mutable_arena()->set_owner_uid(getuid());
  req.mutable_arena()->set_group_gid(getgid());
  v1::Arena a;
  grpc::ClientContext ctx;
  ASSERT_TRUE(d.arenas().CreateArena(&ctx, req, &a).ok());
  struct stat st {};
  ASSERT_EQ(stat(a.segment_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(a.owner_uid(), getuid());
}

TEST(ControlPlane, BadInputIsRefusedWithReasons) {
  TestDaemon d;
  d.Start();
  ASSERT_TRUE(Create(d, "dup", 1 << 20).ok());
  ExpectError(Create(d, "dup", 1 << 20), StatusCode::ALREADY_EXISTS, "already exists");
  ExpectError(Create(d, "", 1 << 20), StatusCode::INVALID_ARGUMENT, "empty");
  ExpectError(Create(d, "a/b", 1 << 20), StatusCode::INVALID_ARGUMENT, "'/'");
  ExpectError(Create(d, std::string(64, 'a'), 1 << 20), StatusCode::INVALID_ARGUMENT,
              "limit is 63");
  ExpectError(Create(d, "Upper", 1 << 20), StatusCode::INVALID_ARGUMENT, "'U'");
  ExpectError(Create(d, "sp ace", 1 << 20), StatusCode::INVALID_ARGUMENT, "' '");
  ExpectError(Create(d, "..", 1 << 20), StatusCode::INVALID_ARGUMENT, "must not start");
  ExpectError(Create(d, "zero", 0), StatusCode::INVALID_ARGUMENT, "must not be 0");
  ExpectError(Create(d, "odd", 4097), StatusCode::INVALID_ARGUMENT, "multiple of 4 KiB");
  ExpectError(Create(d, "huge", uint64_t{2} << 40), StatusCode::INVALID_ARGUMENT, "limit");
  ExpectError(Create(d, "q", 1 << 20, 2 << 20), StatusCode::INVALID_ARGUMENT, "quota");

  ExpectError(Get(d, "arenas/nope"), StatusCode::NOT_FOUND, "\"nope\" does not exist");
  ExpectError(Get(d, "nope"), StatusCode::INVALID_ARGUMENT, "arenas/{arena_id}");
  ExpectError(Delete(d, "arenas/nope"), StatusCode::NOT_FOUND, "does not exist");
  v1::ResetArenaRequest reset;
  reset.set_name("arenas/nope");
  v1::Arena a;
  grpc::ClientContext c1;
  ExpectError(d.arenas().ResetArena(&c1, reset, &a), StatusCode::NOT_FOUND, "does not exist");
  v1::PurgeArenaRequest purge;
  purge.set_name("arenas/nope");
  v1::PurgeArenaResponse pr;
  grpc::ClientContext c2;
  ExpectError(d.arenas().PurgeArena(&c2, purge, &pr), StatusCode::NOT_FOUND, "does not exist");
  v1::GetStatsRequest sreq;
  sreq.set_name("arenas/nope");
  v1::GetStatsResponse sresp;
  grpc::ClientContext c3;
  ExpectError(d.stats().GetStats(&c3, sreq, &sresp), StatusCode::NOT_FOUND, "does not exist");
  v1::AttachArenaRequest areq;
  areq.set_arena("arenas/nope");
  v1::AttachArenaResponse aresp;
  grpc::ClientContext c4;
  ExpectError(d.sessions().AttachArena(&c4, areq, &aresp), StatusCode::NOT_FOUND, "does not exist");
  v1::StreamSessionRequest sess;
  sess.set_session("sessions/999");
  grpc::ClientContext c5;
  auto reader = d.sessions().StreamSession(&c5, sess);
  v1::SessionEvent ev;
  EXPECT_FALSE(reader->Read(&ev));
  ExpectError(reader->Finish(), StatusCode::NOT_FOUND, "session 999");
}

TEST(ControlPlane, HealthAndReflection) {
  TestDaemon d;
  d.Start();
  auto health = grpc::health::v1::Health::NewStub(d.channel());
  for (const char* service : {"", "shmpool.v1.ArenaService", "shmpool.v1.StatsService"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(d.channel());
  grpc::ClientContext ctx;
  auto stream = reflection->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.insert(s.name());
  EXPECT_TRUE(names.count("shmpool.v1.ArenaService"));
  EXPECT_TRUE(names.count("shmpool.v1.SessionService"));
  EXPECT_TRUE(names.count("shmpool.v1.StatsService"));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ControlPlane, SecondDaemonOnTheSocketIsRefused) {
  TestDaemon d;
  d.Start();
  Child second({SHMPOOLD_PATH, "--listen", d.endpoint(), "--shm-dir", d.shm_dir() + "-other"},
               d.log_path() + ".second");
  EXPECT_NE(second.Wait(), 0);
  std::ifstream in(d.log_path() + ".second");
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_NE(log.str().find("another shmpoold"), std::string::npos) << log.str();
  EXPECT_TRUE(Get(d, "arenas/default").ok()) << "the first daemon must keep its socket";
  struct stat st {};
  EXPECT_NE(stat((d.shm_dir() + "-other").c_str(), &st) == 0 &&
                stat((d.shm_dir() + "-other/shmpool.default.seg").c_str(), &st) == 0,
            true)
      << "the refused daemon must not create segments";
  std::filesystem::remove_all(d.shm_dir() + "-other");
}

// /metrics itself is tested end to end with Prometheus in ops_test.sh; here: a bad address
// stops the daemon at start-up with a message that names the flag.
TEST(ControlPlane, BadMetricsListenIsRejectedClearly) {
  TestDaemon d;
  Child c({SHMPOOLD_PATH, "--listen", d.endpoint(), "--shm-dir", d.shm_dir(), "--metrics-listen",
           "no-port-here"},
          d.log_path());
  EXPECT_NE(c.Wait(), 0);
  EXPECT_NE(d.Log().find("--metrics-listen: expected HOST:PORT"), std::string::npos) << d.Log();
}

TEST(ControlPlane, SigtermKeepsSegmentsAndRestartAdoptsThem) {
  TestDaemon d;
  d.Start();
  // The quota is enforced: leave room for the slabs the worker needs.
  ASSERT_TRUE(Create(d, "keep", 16 << 20, 1 << 20).ok());
  auto w = AttachedWorker(d.endpoint(), "keep");
  ASSERT_EQ(w->Ask("alloc 1024 10").rfind("ok", 0), 0u);
  EXPECT_EQ(d.Stop(), 0);
  struct stat st {};
  ASSERT_EQ(stat(d.SegmentPath("keep").c_str(), &st), 0) << "SIGTERM must leave segments";
  EXPECT_NE(stat(d.socket_path().c_str(), &st), 0) << "the socket is removed on shutdown";
  // The client keeps allocating while no daemon runs.
  ASSERT_EQ(w->Ask("alloc 64 5").rfind("ok", 0), 0u);

  d.Start();
  v1::Arena a;
  ASSERT_TRUE(Get(d, "arenas/keep", &a).ok());
  EXPECT_TRUE(a.adopted());
  EXPECT_EQ(a.quota_bytes(), 1u << 20) << "the quota survives a restart";
  EXPECT_EQ(a.attached_clients(), 1u) << "the live client is counted";
  v1::GetStatsRequest req;
  req.set_name("arenas/keep");
  // The client re-registers with the new daemon within a few seconds.
  int clients = 0;
  for (int i = 0; i < 60 && clients == 0; ++i) {
    v1::GetStatsResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(d.stats().GetStats(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.arenas(0).allocated_bytes(), 1024u * 10 + 64u * 5);
    clients = resp.arenas(0).clients_size();
    if (clients == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(clients, 1);
  ASSERT_EQ(w->Ask("detach"), "ok");
}

TEST(ControlPlane, InvalidSegmentsAreSetAsideNotAdopted) {
  TestDaemon d;
  {
    std::ofstream bad(d.SegmentPath("default"));
    bad << std::string(8192, 'x');
  }
  d.Start();
  v1::Arena a;
  ASSERT_TRUE(Get(d, "arenas/default", &a).ok()) << d.Log();
  EXPECT_FALSE(a.adopted());
  struct stat st {};
  EXPECT_EQ(stat((d.SegmentPath("default") + ".rejected").c_str(), &st), 0);
  EXPECT_NE(d.Log().find("event=segment_not_adopted"), std::string::npos) << d.Log();
}

}  // namespace
}  // namespace shmpool::testing
