// Tenants that do not trust each other, at the file system, end to end (needs root: the
// tenants run under other uids with setpriv):
//   - a segment file that the daemon did not create (another owner, another mode, a symlink,
//     no .meta) is not adopted at start, and `arena create` of its name fails naming it;
//   - a symlink at an arena's .meta name is replaced, never followed (its target is kept);
//   - a shm directory writable by others, or owned by another uid, is refused at start;
//   - a client with no endpoint refuses a fallback socket that another uid made;
//   - [limits] per uid: RESOURCE_EXHAUSTED naming the limit, while root still creates.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "harness.h"
#include "shmpool/v1/pool.grpc.pb.h"

namespace shmpool::testing {
namespace {

using grpc::StatusCode;

constexpr uid_t kAlice = 1001, kBob = 1002;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// argv run as `uid` (gid the same, no supplementary groups) with no SHMPOOL_ENDPOINT and no
// XDG_RUNTIME_DIR; returns the exit status, fills `out` with stdout and stderr.
int RunAs(uid_t uid, const std::vector<std::string>& cmd, std::string* out,
          const std::string& scratch) {
  const std::string id = std::to_string(uid);
  std::vector<std::string> argv = {
      "/usr/bin/env", "-u", "SHMPOOL_ENDPOINT", "-u", "XDG_RUNTIME_DIR", "/usr/bin/setpriv",
      "--reuid",      id,   "--regid",          id,   "--clear-groups"};
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  const std::string err_path = scratch + ".stderr";
  Child c(argv, err_path);
  c.CloseInput();
  *out = c.ReadAll();
  const int rc = c.Wait();
  *out += ReadFile(err_path);
  return rc;
}

int Ctl(TestDaemon& d, uid_t uid, std::vector<std::string> args, std::string* out) {
  args.insert(args.begin(), {SHMPOOLCTL_PATH, "--endpoint", d.endpoint()});
  return RunAs(uid, args, out, d.log_path() + ".ctl");
}

grpc::Status CreateArenaAsRoot(TestDaemon& d, const std::string& id, uint64_t capacity) {
  v1::CreateArenaRequest req;
  req.set_arena_id(id);
  req.mutable_arena()->set_capacity_bytes(capacity);
  v1::Arena resp;
  grpc::ClientContext ctx;
  return d.arenas().CreateArena(&ctx, req, &resp);
}

std::vector<std::string> ArenaIds(TestDaemon& d) {
  v1::ListArenasResponse resp;
  grpc::ClientContext ctx;
  EXPECT_TRUE(d.arenas().ListArenas(&ctx, {}, &resp).ok());
  std::vector<std::string> ids;
  for (const v1::Arena& a : resp.arenas()) ids.push_back(a.name().substr(7));  // "arenas/"
  return ids;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The segment and .meta of a real arena `id` of 16 MiB, made by a daemon of its own and
// left in `dir` (owned by root, as that daemon made them).
void MakeArenaFiles(const std::string& id, const std::string& dir) {
  TestDaemon maker;
  maker.Start();
  ASSERT_TRUE(CreateArenaAsRoot(maker, id, 16 << 20).ok());
  maker.Stop();
  std::filesystem::copy_file(maker.SegmentPath(id), dir + "/shmpool." + id + ".seg");
  std::filesystem::copy_file(maker.shm_dir() + "/shmpool." + id + ".meta",
                             dir + "/shmpool." + id + ".meta");
}

// Waits until `c` has exited (true) or `seconds` passed (false), without reaping it.
bool Exits(Child& c, int seconds) {
  for (int i = 0; i < seconds * 100; ++i) {
    siginfo_t info{};
    if (waitid(P_PID, c.pid(), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == c.pid())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(TenantFiles, SegmentFilesTheDaemonDidNotMakeAreNotAdopted) {
  ASSERT_EQ(geteuid(), 0u) << "this test plants files as other uids: run as root";
  TestDaemon d;
  const std::string dir = d.shm_dir();
  // "planted": a valid segment, but the planter's (owner alice, mode 0666).
  ASSERT_NO_FATAL_FAILURE(MakeArenaFiles("planted", dir));
  ASSERT_EQ(chown((dir + "/shmpool.planted.seg").c_str(), kAlice, kAlice), 0);
  ASSERT_EQ(chmod((dir + "/shmpool.planted.seg").c_str(), 0666), 0);
  // "nometa": the daemon's owner and mode, but no .meta beside it.
  ASSERT_NO_FATAL_FAILURE(MakeArenaFiles("nometa", dir));
  ASSERT_EQ(unlink((dir + "/shmpool.nometa.meta").c_str()), 0);
  // "linked": a symlink to another tenant's valid segment elsewhere.
  const std::string elsewhere = d.log_path() + ".victim.seg";
  ASSERT_NO_FATAL_FAILURE(MakeArenaFiles("linked", dir));
  std::filesystem::copy_file(dir + "/shmpool.linked.seg", elsewhere);  // another file system
  ASSERT_EQ(unlink((dir + "/shmpool.linked.seg").c_str()), 0);
  ASSERT_EQ(symlink(elsewhere.c_str(), (dir + "/shmpool.linked.seg").c_str()), 0);
  // "kept": what the daemon made, untouched: adopted.
  ASSERT_NO_FATAL_FAILURE(MakeArenaFiles("kept", dir));
  // A file the daemon did not make, stopped at before the mapping: never truncated.
  const uint64_t victim_bytes = std::filesystem::file_size(elsewhere);

  d.Start();
  const std::vector<std::string> ids = ArenaIds(d);
  EXPECT_TRUE(Has(ids, "kept")) << d.Log();
  EXPECT_FALSE(Has(ids, "planted")) << "a file owned by uid 1001, mode 0666, was adopted";
  EXPECT_FALSE(Has(ids, "nometa")) << "a segment with no .meta was adopted";
  EXPECT_FALSE(Has(ids, "linked")) << "a symlink was followed and adopted";
  const std::string log = d.Log();
  EXPECT_NE(log.find("shmpool.planted.seg"), std::string::npos) << log;
  EXPECT_NE(log.find("owned by uid 1001"), std::string::npos) << log;
  EXPECT_NE(log.find("symbolic link"), std::string::npos) << log;
  // The tenant's files are left where they were.
  struct stat st {};
  ASSERT_EQ(lstat((dir + "/shmpool.planted.seg").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kAlice);
  ASSERT_EQ(lstat((dir + "/shmpool.linked.seg").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(std::filesystem::file_size(elsewhere), victim_bytes);

  // A stray file holds the name: create fails, naming it; another name works.
  grpc::Status s = CreateArenaAsRoot(d, "planted", 16 << 20);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("shmpool.planted.seg"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("not an arena of this daemon"), std::string::npos)
      << s.error_message();
  EXPECT_TRUE(CreateArenaAsRoot(d, "fresh", 16 << 20).ok());
}

TEST(TenantFiles, SymlinkAtMetaNameIsNotFollowed) {
  ASSERT_EQ(geteuid(), 0u);
  TestDaemon d;
  const std::string target = d.log_path() + ".precious";
  WriteFile(target, "root's file\n");
  const std::string meta = d.shm_dir() + "/shmpool.x.meta";
  ASSERT_EQ(symlink(target.c_str(), meta.c_str()), 0);
  d.Start();
  ASSERT_TRUE(CreateArenaAsRoot(d, "x", 16 << 20).ok());
  EXPECT_EQ(ReadFile(target), "root's file\n") << "the daemon wrote through the symlink";
  struct stat st {};
  ASSERT_EQ(lstat(meta.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the .meta is the daemon's own file now";
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Restarted, the arena (with its .meta) is adopted.
  d.Stop();
  d.Start();
  EXPECT_TRUE(Has(ArenaIds(d), "x")) << d.Log();
}

// shmpoold on `shm_dir` must exit at once, logging `message`.
void ExpectRefused(TestDaemon& d, const std::string& shm_dir, const std::string& message) {
  Child c({SHMPOOLD_PATH, "--listen", d.endpoint(), "--shm-dir", shm_dir}, d.log_path());
  const bool exited = Exits(c, 10);
  if (!exited) c.Kill(SIGTERM);
  EXPECT_TRUE(exited) << "shmpoold started on " << shm_dir;
  EXPECT_NE(c.Wait(), 0);
  EXPECT_NE(d.Log().find(message), std::string::npos) << d.Log();
}

TEST(TenantFiles, ShmDirWritableByOthersOrNotOursIsRefused) {
  ASSERT_EQ(geteuid(), 0u);
  TestDaemon d;
  ASSERT_EQ(chmod(d.shm_dir().c_str(), 01777), 0);
  ExpectRefused(d, d.shm_dir(),
                "shm directory " + d.shm_dir() + " is writable by group or others (mode 1777)");
  ASSERT_EQ(chmod(d.shm_dir().c_str(), 0755), 0);
  ASSERT_EQ(chown(d.shm_dir().c_str(), kAlice, kAlice), 0);
  ExpectRefused(d, d.shm_dir(),
                "shm directory " + d.shm_dir() + " is owned by uid 1001, not the daemon's uid 0");
  ASSERT_EQ(chown(d.shm_dir().c_str(), 0, 0), 0);
  d.Start();
  EXPECT_TRUE(Has(ArenaIds(d), "default"));
}

// A daemon of uid `attacker` on the fallback socket of uid `victim`, then the victim's
// shmpoolctl and shmpool_attach with no endpoint: both refuse the socket.
TEST(TenantFiles, FallbackSocketOfAnotherUidIsRefused) {
  ASSERT_EQ(geteuid(), 0u);
  constexpr uid_t kVictim = 4201, kAttacker = 4202;
  struct stat st {};
  ASSERT_NE(stat("/run/shmpool/shmpoold.sock", &st), 0) << "a system daemon runs here";
  const std::string fallback = "/tmp/shmpool-" + std::to_string(kVictim);
  std::filesystem::remove_all(fallback);
  TestDaemon d;  // its directories only
  ASSERT_EQ(chown(d.shm_dir().c_str(), kAttacker, kAttacker), 0);
  ASSERT_EQ(chmod(d.shm_dir().c_str(), 0755), 0);
  const std::string scratch = d.log_path();
  const std::vector<std::string> daemon_argv = {"/usr/bin/setpriv",
                                                "--reuid",
                                                std::to_string(kAttacker),
                                                "--regid",
                                                std::to_string(kAttacker),
                                                "--clear-groups",
                                                SHMPOOLD_PATH,
                                                "--listen",
                                                "unix:" + fallback + "/shmpoold.sock",
                                                "--shm-dir",
                                                d.shm_dir()};
  Child attacker(daemon_argv, scratch + ".attacker");
  for (int i = 0; i < 500 && stat((fallback + "/shmpoold.sock").c_str(), &st) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(stat((fallback + "/shmpoold.sock").c_str(), &st), 0) << ReadFile(scratch + ".attacker");
  ASSERT_EQ(st.st_uid, kAttacker);

  const std::string refusal = "refusing " + fallback + "/shmpoold.sock: owned by uid 4202";
  std::string out;
  EXPECT_NE(RunAs(kVictim, {SHMPOOLCTL_PATH, "arena", "list"}, &out, scratch + ".ctl"), 0)
      << "shmpoolctl talked to uid 4202's daemon:\n"
      << out;
  EXPECT_NE(out.find(refusal), std::string::npos) << out;

  const std::string id = std::to_string(kVictim);
  Child w({"/usr/bin/env", "-u", "SHMPOOL_ENDPOINT", "-u", "XDG_RUNTIME_DIR", "/usr/bin/setpriv",
           "--reuid", id, "--regid", id, "--clear-groups", SHMPOOL_TEST_WORKER});
  const std::string r = w.Ask("attach - default");
  EXPECT_EQ(r.rfind("err", 0), 0u) << r;
  EXPECT_NE(r.find(refusal), std::string::npos) << r;
  attacker.Kill(SIGTERM);
  attacker.Wait();
  std::filesystem::remove_all(fallback);
}

// A daemon of uid 4203 with its socket in /tmp/shmpool-4203: the directory it makes is
// 0700; one that uid 4204 made first is refused.
TEST(TenantFiles, DaemonRefusesAPerUserSocketDirectoryItDoesNotOwn) {
  ASSERT_EQ(geteuid(), 0u);
  constexpr uid_t kOwner = 4203, kOther = 4204;
  const std::string dir = "/tmp/shmpool-" + std::to_string(kOwner);
  std::filesystem::remove_all(dir);
  TestDaemon d;  // its directories only
  ASSERT_EQ(chown(d.shm_dir().c_str(), kOwner, kOwner), 0);
  const std::string id = std::to_string(kOwner);
  const std::vector<std::string> argv = {
      "/usr/bin/setpriv", "--reuid",  id,
      "--regid",          id,         "--clear-groups",
      SHMPOOLD_PATH,      "--listen", "unix:" + dir + "/shmpoold.sock",
      "--shm-dir",        d.shm_dir()};
  {
    Child daemon(argv, d.log_path());
    struct stat st {};
    for (int i = 0; i < 500 && stat((dir + "/shmpoold.sock").c_str(), &st) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(lstat(dir.c_str(), &st), 0) << d.Log();
    EXPECT_EQ(st.st_uid, kOwner);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    daemon.Kill(SIGTERM);
    EXPECT_EQ(daemon.Wait(), 0);
  }
  ASSERT_EQ(chown(dir.c_str(), kOther, kOther), 0);
  Child daemon(argv, d.log_path());
  const bool exited = Exits(daemon, 10);
  if (!exited) daemon.Kill(SIGTERM);
  EXPECT_TRUE(exited) << "shmpoold used uid 4204's " << dir;
  EXPECT_NE(daemon.Wait(), 0);
  EXPECT_NE(d.Log().find("socket directory " + dir + " is owned by uid 4204"), std::string::npos)
      << d.Log();
  std::filesystem::remove_all(dir);
}

TEST(TenantFiles, PerUidLimitsLeaveRootRoom) {
  ASSERT_EQ(geteuid(), 0u);
  TestDaemon d;
  const std::string config = d.log_path() + ".toml";
  WriteFile(config,
            "[limits]\n"
            "max_arenas_per_uid = 2\n"
            "max_capacity_per_uid = \"48MiB\"\n"
            "max_pools_per_uid = 1\n"
            "max_total_capacity = \"2GiB\"\n");
  ASSERT_EQ(chmod(d.shm_dir().c_str(), 0755), 0);
  const std::string sock_dir = d.socket_path().substr(0, d.socket_path().rfind('/'));
  ASSERT_EQ(chmod(sock_dir.c_str(), 0755), 0);
  d.Start({"--config", config});
  std::string out;
  EXPECT_EQ(Ctl(d, kAlice, {"arena", "create", "a1", "--capacity", "16MiB"}, &out), 0) << out;
  EXPECT_EQ(Ctl(d, kAlice, {"arena", "create", "a2", "--capacity", "16MiB"}, &out), 0) << out;
  EXPECT_NE(Ctl(d, kAlice, {"arena", "create", "a3", "--capacity", "16MiB"}, &out), 0) << out;
  EXPECT_NE(out.find("limits.max_arenas_per_uid = 2: uid 1001 has 2 arenas"), std::string::npos)
      << out;
  EXPECT_EQ(Ctl(d, kBob, {"arena", "create", "b1", "--capacity", "32MiB"}, &out), 0) << out;
  EXPECT_NE(Ctl(d, kBob, {"arena", "create", "b2", "--capacity", "32MiB"}, &out), 0) << out;
  EXPECT_NE(out.find("limits.max_capacity_per_uid = 48 MiB: uid 1002 has 32 MiB"),
            std::string::npos)
      << out;
  EXPECT_EQ(
      Ctl(d, kAlice, {"pool", "create", "a1", "p1", "--object-size", "64", "--count", "8"}, &out),
      0)
      << out;
  EXPECT_NE(
      Ctl(d, kAlice, {"pool", "create", "a2", "p2", "--object-size", "64", "--count", "8"}, &out),
      0)
      << out;
  EXPECT_NE(out.find("limits.max_pools_per_uid = 1: uid 1001 has 1 pool"), std::string::npos)
      << out;
  // Root is not held to the per-uid limits, only to the daemon's total.
  grpc::Status s = CreateArenaAsRoot(d, "r1", 512 << 20);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(CreateArenaAsRoot(d, "r2", 64 << 20).ok());
  EXPECT_TRUE(CreateArenaAsRoot(d, "r3", 64 << 20).ok());
  s = CreateArenaAsRoot(d, "r4", 1 << 30);
  EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_NE(s.error_message().find("limits.max_total_capacity = 2 GiB"), std::string::npos)
      << s.error_message();
}

}  // namespace
}  // namespace shmpool::testing
