// Tenants end to end, against a private shmpoold:
//   - the quota is enforced by the clients' page heaps and changed online (UpdateArena,
//     shmpoolctl arena set-quota / update --quota) while a client stays attached;
//   - pools created through the daemon (shmpoolctl pool create), objects got in one client
//     process and put back in another, stats per holder, delete refused while open;
//   - isolation: a process of another uid can neither attach through the daemon
//     (PERMISSION_DENIED) nor open the segment file itself (the kernel's EACCES); the
//     owner can; a non-admin creates arenas only for itself and manages only its own;
//   - reads: a non-admin lists, watches and reads only its own tenant's arenas and pools;
//   - attribution: the arena's stats show each client's pool holdings.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "shmpool/v1/pool.grpc.pb.h"
#include "tenant_support.h"

namespace shmpool::testing {
namespace {

using grpc::StatusCode;

constexpr uid_t kAlice = 1001, kBob = 1002;

grpc::Status CreateArena(TestDaemon& d, const std::string& id, uint64_t capacity, uint64_t quota,
                         std::optional<uid_t> owner = std::nullopt) {
  v1::CreateArenaRequest req;
  req.set_arena_id(id);
  req.mutable_arena()->set_capacity_bytes(capacity);
  req.mutable_arena()->set_quota_bytes(quota);
  if (owner) {
    req.mutable_arena()->set_owner_uid(*owner);
    req.mutable_arena()->set_group_gid(*owner);
  }
  v1::Arena resp;
  grpc::ClientContext ctx;
  return d.arenas().CreateArena(&ctx, req, &resp);
}

grpc::Status SetQuota(TestDaemon& d, const std::string& id, uint64_t quota, v1::Arena* out) {
  v1::UpdateArenaRequest req;
  req.set_name("arenas/" + id);
  req.set_quota_bytes(quota);
  grpc::ClientContext ctx;
  return d.arenas().UpdateArena(&ctx, req, out);
}

v1::Arena GetArena(TestDaemon& d, const std::string& id) {
  v1::GetArenaRequest req;
  req.set_name("arenas/" + id);
  v1::Arena a;
  grpc::ClientContext ctx;
  EXPECT_TRUE(d.arenas().GetArena(&ctx, req, &a).ok());
  return a;
}

// Runs shmpoolctl (optionally as `uid`, gid the same); returns exit status, fills output
// (and its standard error when `err` is given).
int Ctl(TestDaemon& d, std::vector<std::string> args, std::string* out = nullptr,
        std::optional<uid_t> uid = std::nullopt, std::string* err = nullptr) {
  std::vector<std::string> argv = {SHMPOOLCTL_PATH, "--endpoint", d.endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv = AsUid(uid, argv);
  const std::string err_path = d.log_path() + ".ctl-stderr";
  Child c(argv, err ? err_path : "");
  c.CloseInput();
  const std::string text = c.ReadAll();
  if (out) *out = text;
  const int rc = c.Wait();
  if (err) {
    std::ifstream in(err_path);
    *err = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return rc;
}

// The ids of the arenas in the output of `arena list`, `stats` or `pool list` with --json
// ("arenas/ID" as it appears in the names there), sorted and unique.
std::vector<std::string> ArenasNamedIn(const std::string& json) {
  std::set<std::string> ids;
  for (size_t at = json.find("\"arenas/"); at != std::string::npos;
       at = json.find("\"arenas/", at + 1)) {
    const size_t start = at + 8;
    const size_t end = json.find_first_of("\"/", start);
    ids.insert(json.substr(start, end - start));
  }
  return {ids.begin(), ids.end()};
}

std::unique_ptr<Child> Worker(std::optional<uid_t> uid = std::nullopt) {
  return std::make_unique<Child>(AsUid(uid, {SHMPOOL_TEST_WORKER}));
}

TEST(Tenants, QuotaIsEnforcedAndChangedOnline) {
  TestDaemon d;
  d.Start();
  ASSERT_TRUE(CreateArena(d, "q", 64 << 20, 256 << 10).ok());
  auto w = Worker();
  ASSERT_EQ(w->Ask("attach " + d.endpoint() + " q").rfind("ok", 0), 0u);
  // 64 KiB blocks are large runs: at most 4 fit in 256 KiB.
  std::vector<std::string> r = Words(w->Ask("alloc 65536 100"));
  ASSERT_EQ(r.size(), 5u) << "expected 'err -5 exhausted after N'";
  EXPECT_EQ(r[0], "err");
  EXPECT_LE(std::stoi(r[4]), 4);
  EXPECT_GE(std::stoi(r[4]), 3);
  v1::Arena a;
  ASSERT_TRUE(SetQuota(d, "q", 8 << 20, &a).ok());
  EXPECT_EQ(a.quota_bytes(), 8u << 20);
  EXPECT_EQ(a.attached_clients(), 1u);
  EXPECT_EQ(RefsIn(w->Ask("alloc 65536 50")), 50) << "the same client allocates after the raise";
  grpc::Status st = SetQuota(d, "q", 128 << 20, &a);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(Ctl(d, {"arena", "set-quota", "q", "16MiB"}), 0);
  EXPECT_EQ(GetArena(d, "q").quota_bytes(), 16u << 20);
  EXPECT_EQ(Ctl(d, {"arena", "update", "q", "--quota", "0"}), 0);
  EXPECT_EQ(GetArena(d, "q").quota_bytes(), 0u);
  EXPECT_EQ(RefsIn(w->Ask("alloc 1048576 32")), 32) << "no quota: limited by capacity only";
  EXPECT_EQ(w->Ask("detach"), "ok");
}

TEST(Tenants, PoolsAcrossTwoClientProcesses) {
  TestDaemon d;
  d.Start();
  std::string out;
  ASSERT_EQ(Ctl(d,
                {"pool", "create", "default", "pkt", "--object-size", "2048", "--count", "256",
                 "--headroom", "128", "--align", "64"},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("arenas/default/pools/pkt"), std::string::npos) << out;
  auto prod = Worker(), cons = Worker();
  ASSERT_EQ(prod->Ask("attach " + d.endpoint() + " default").rfind("ok", 0), 0u);
  ASSERT_EQ(cons->Ask("attach " + d.endpoint() + " default").rfind("ok", 0), 0u);
  EXPECT_EQ(prod->Ask("pool_open pkt"), "ok 2048");
  EXPECT_EQ(cons->Ask("pool_open pkt"), "ok 2048");
  std::string got = prod->Ask("pool_get 100");
  ASSERT_EQ(got.rfind("ok ", 0), 0u) << got;
  EXPECT_EQ(cons->Ask("pool_put " + got.substr(3)), "ok");
  EXPECT_EQ(cons->Ask("pool_put " + got.substr(3, got.find(' ', 3) - 3)).rfind("err", 0), 0u)
      << "a second put of the same object is refused";

  auto pools = v1::PoolService::NewStub(d.channel());
  v1::ListPoolsResponse list;
  {
    grpc::ClientContext ctx;
    v1::ListPoolsRequest req;
    req.set_arena("arenas/default");
    ASSERT_TRUE(pools->ListPools(&ctx, req, &list).ok());
  }
  ASSERT_EQ(list.pools_size(), 1);
  const v1::Pool& p = list.pools(0);
  EXPECT_EQ(p.in_use(), 0u);
  EXPECT_EQ(p.count(), 256u);
  EXPECT_EQ(p.stride(), 2176u);  // 2048 + 128, a multiple of 64
  EXPECT_EQ(p.gets(), 100u);
  EXPECT_EQ(p.puts(), 100u);
  EXPECT_EQ(p.bad_puts(), 1u);
  ASSERT_EQ(p.holders_size(), 2);
  std::vector<int64_t> held = {p.holders(0).held(), p.holders(1).held()};
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<int64_t>{-100, 100}));
  EXPECT_EQ(Ctl(d, {"pool", "list"}, &out), 0);
  EXPECT_NE(out.find("arenas/default/pools/pkt"), std::string::npos) << out;
  // Attribution: the arena's stats show the same holdings per client.
  {
    v1::GetStatsRequest req;
    req.set_name("arenas/default");
    v1::GetStatsResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(d.stats().GetStats(&ctx, req, &resp).ok());
    std::map<pid_t, int64_t> held_by_pid;
    for (const v1::ClientStats& c : resp.arenas(0).clients()) {
      ASSERT_EQ(c.pools_size(), 1) << c.session().name();
      EXPECT_EQ(c.pools(0).pool(), "arenas/default/pools/pkt");
      held_by_pid[static_cast<pid_t>(c.session().pid())] = c.pools(0).held();
    }
    EXPECT_EQ(held_by_pid, (std::map<pid_t, int64_t>{{prod->pid(), 100}, {cons->pid(), -100}}));
  }

  v1::DeletePoolRequest del;
  del.set_name("arenas/default/pools/pkt");
  v1::DeletePoolResponse none;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(pools->DeletePool(&ctx, del, &none).error_code(), StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_EQ(prod->Ask("pool_close"), "ok");
  EXPECT_EQ(cons->Ask("pool_close"), "ok");
  {
    grpc::ClientContext ctx;
    grpc::Status st = pools->DeletePool(&ctx, del, &none);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(Ctl(d, {"pool", "delete", "default", "pkt"}), 1) << "already deleted";
}

// Lets other uids reach the daemon's socket and segment files (as /run and /dev/shm do),
// then starts it.
void StartReachableByOtherUids(TestDaemon& d) {
  ASSERT_EQ(chmod(d.shm_dir().c_str(), 0755), 0);
  const std::string sock_dir = d.socket_path().substr(0, d.socket_path().rfind('/'));
  ASSERT_EQ(chmod(sock_dir.c_str(), 0755), 0);
  d.Start();
}

TEST(Tenants, AnotherTenantCannotAttachOrMap) {
  ASSERT_EQ(geteuid(), 0u) << "this test runs clients under other uids with setpriv: run as root";
  TestDaemon d;
  ASSERT_NO_FATAL_FAILURE(StartReachableByOtherUids(d));
  ASSERT_TRUE(CreateArena(d, "alice", 16 << 20, 0, kAlice).ok());
  struct stat st {};
  ASSERT_EQ(stat(d.SegmentPath("alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kAlice);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto bob = Worker(kBob);
  std::string r = bob->Ask("attach " + d.endpoint() + " alice");
  EXPECT_EQ(r.rfind("err -4", 0), 0u) << "the daemon refuses another tenant: " << r;
  r = bob->Ask("open " + d.SegmentPath("alice"));
  EXPECT_EQ(r.rfind("err 13", 0), 0u) << "the kernel refuses another tenant: " << r;

  auto alice = Worker(kAlice);
  ASSERT_EQ(alice->Ask("attach " + d.endpoint() + " alice").rfind("ok", 0), 0u);
  EXPECT_EQ(RefsIn(alice->Ask("alloc 100 10")), 10);

  // A non-admin creates arenas for itself only, and manages only its own.
  std::string out;
  EXPECT_EQ(Ctl(d, {"arena", "create", "bobs", "--capacity", "16MiB"}, &out, kBob), 0) << out;
  ASSERT_EQ(stat(d.SegmentPath("bobs").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kBob);
  EXPECT_EQ(st.st_gid, kBob);
  EXPECT_EQ(
      Ctl(d, {"arena", "create", "forbob", "--capacity", "16MiB", "--owner", "1002"}, &out, kAlice),
      1);
  EXPECT_EQ(Ctl(d, {"arena", "delete", "bobs"}, &out, kAlice), 1);
  EXPECT_EQ(Ctl(d, {"arena", "set-quota", "alice", "1MiB"}, &out, kBob), 1);
  EXPECT_EQ(
      Ctl(d, {"pool", "create", "alice", "p", "--object-size", "64", "--count", "8"}, &out, kBob),
      1);
  EXPECT_EQ(
      Ctl(d, {"pool", "create", "alice", "p", "--object-size", "64", "--count", "8"}, &out, kAlice),
      0);
  EXPECT_EQ(Ctl(d, {"arena", "delete", "bobs"}, &out, kBob), 0) << "the owner may";
  EXPECT_EQ(alice->Ask("detach"), "ok");
}

// Reads are isolated too (authz.h): a tenant lists, watches and reads only its own arenas
// and pools; naming another tenant's arena is PERMISSION_DENIED (NOT_FOUND only when there
// is no such arena, as for mutations); an admin sees everything.
TEST(Tenants, ReadsShowOnlyTheCallersTenant) {
  ASSERT_EQ(geteuid(), 0u) << "this test runs clients under other uids with setpriv: run as root";
  TestDaemon d;
  ASSERT_NO_FATAL_FAILURE(StartReachableByOtherUids(d));
  ASSERT_TRUE(CreateArena(d, "alice", 16 << 20, 0, kAlice).ok());
  ASSERT_TRUE(CreateArena(d, "bob", 16 << 20, 0, kBob).ok());
  std::string out, err;
  for (const char* arena : {"alice", "bob"})
    ASSERT_EQ(Ctl(d, {"pool", "create", arena, "p", "--object-size", "64", "--count", "8"}, &out),
              0)
        << out;
  auto alice = Worker(kAlice);
  ASSERT_EQ(alice->Ask("attach " + d.endpoint() + " alice").rfind("ok", 0), 0u);
  EXPECT_EQ(RefsIn(alice->Ask("alloc 100 10")), 10);

  using Ids = std::vector<std::string>;
  // Lists and the all-arenas forms: bob sees his arena only (not alice's, nor the daemon's
  // default arena); alice hers; an admin (root) all three.
  ASSERT_EQ(Ctl(d, {"arena", "list", "--json"}, &out, kBob), 0);
  EXPECT_EQ(ArenasNamedIn(out), (Ids{"bob"})) << out;
  ASSERT_EQ(Ctl(d, {"stats", "--json"}, &out, kBob), 0);
  EXPECT_EQ(ArenasNamedIn(out), (Ids{"bob"})) << out;
  ASSERT_EQ(Ctl(d, {"pool", "list", "--json"}, &out, kBob), 0);
  EXPECT_EQ(ArenasNamedIn(out), (Ids{"bob"})) << out;
  ASSERT_EQ(Ctl(d, {"top", "--iterations", "1"}, &out, kBob), 0);  // WatchStats
  EXPECT_NE(out.find("bob"), std::string::npos) << out;
  EXPECT_EQ(out.find("alice"), std::string::npos) << out;
  EXPECT_EQ(out.find("default"), std::string::npos) << out;
  ASSERT_EQ(Ctl(d, {"stats", "--json"}, &out, kAlice), 0);
  EXPECT_EQ(ArenasNamedIn(out), (Ids{"alice"})) << out;
  EXPECT_NE(out.find("\"client_name\":\"shmpool_test_worker\""), std::string::npos)
      << "alice sees her own client: " << out;
  ASSERT_EQ(Ctl(d, {"arena", "list", "--json"}, &out), 0);
  EXPECT_EQ(ArenasNamedIn(out), (Ids{"alice", "bob", "default"})) << out;
  ASSERT_EQ(Ctl(d, {"stats", "--json"}, &out), 0);
  EXPECT_EQ(ArenasNamedIn(out), (Ids{"alice", "bob", "default"})) << out;

  // Another tenant's arena by name: PERMISSION_DENIED, for every read.
  const std::vector<std::vector<std::string>> named_reads = {{"arena", "get", "alice"},
                                                             {"stats", "alice"},
                                                             {"pool", "list", "alice"},
                                                             {"map", "alice"},
                                                             {"top", "alice", "--iterations", "1"}};
  for (const std::vector<std::string>& args : named_reads) {
    EXPECT_EQ(Ctl(d, args, &out, kBob, &err), 1) << args[0] << " " << args[1] << ": " << out;
    EXPECT_NE(err.find("may not read arena \"alice\""), std::string::npos)
        << args[0] << ": " << err;
  }
  EXPECT_EQ(Ctl(d, {"stats", "alice"}, &out, kBob, &err), 1);
  EXPECT_NE(err.find("PERMISSION_DENIED"), std::string::npos) << err;
  EXPECT_EQ(Ctl(d, {"arena", "get", "nope"}, &out, kBob, &err), 1);
  EXPECT_NE(err.find("NOT_FOUND"), std::string::npos) << err;
  // The owner reads its arena by name.
  EXPECT_EQ(Ctl(d, {"stats", "alice"}, &out, kAlice, &err), 0) << err;
  EXPECT_EQ(Ctl(d, {"map", "alice"}, &out, kAlice, &err), 0) << err;
  EXPECT_EQ(alice->Ask("detach"), "ok");
}

}  // namespace
}  // namespace shmpool::testing
