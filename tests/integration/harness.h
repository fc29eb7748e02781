// Test harness for the control plane: a private shmpoold (TestDaemon) on its own socket and
// shm directory, and child processes driven over pipes (Child: the test worker, shmpoolctl).
// Children are started with posix_spawn (fork+exec), never plain fork: the test process
// runs gRPC threads, which a forked child must not inherit.
#pragma once

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "shmpool/v1/arena.grpc.pb.h"
#include "shmpool/v1/session.grpc.pb.h"
#include "shmpool/v1/stats.grpc.pb.h"

extern char** environ;

namespace shmpool::testing {

// A child process with its stdin and stdout on pipes (stderr inherited, or to a file).
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv, const std::string& stderr_path = "") {
    int in[2], out[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (!stderr_path.empty())
      posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ), 0) << argv[0];
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
  }
  ~Child() {
    if (to_) fclose(to_);
    if (from_) fclose(from_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Sends one command line and returns the reply line.
  std::string Ask(const std::string& line) {
    fprintf(to_, "%s\n", line.c_str());
    fflush(to_);
    return ReadLine();
  }
  std::string ReadLine() {
    std::string s;
    int c;
    while ((c = fgetc(from_)) != EOF && c != '\n') s.push_back(static_cast<char>(c));
    return s;
  }
  std::string ReadAll() {
    std::string s;
    int c;
    while ((c = fgetc(from_)) != EOF) s.push_back(static_cast<char>(c));
    return s;
  }
  void CloseInput() {
    fclose(to_);
    to_ = nullptr;
  }
  // Waits for the exit; returns the exit status, or 128 + signal.
  int Wait() {
    if (pid_ <= 0) return -1;  // never spawned, or already waited for: not waitpid(-1)
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Never kill(-1, ...): after a failed spawn or a Wait, pid_ is -1 (and as root kill(-1)
  // signals every process of the machine).
  void Kill(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

// Splits "ok A B C" into {"ok", "A", "B", "C"}.
inline std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

// A worker attached to `arena` of `endpoint`.
inline std::unique_ptr<Child> AttachedWorker(const std::string& endpoint,
                                             const std::string& arena) {
  auto w = std::make_unique<Child>(std::vector<std::string>{SHMPOOL_TEST_WORKER});
  const std::string reply = w->Ask("attach " + endpoint + " " + arena);
  EXPECT_EQ(reply.rfind("ok ", 0), 0u) << reply;
  return w;
}

// A shmpoold of its own: socket in a fresh /tmp directory, segments in a fresh /dev/shm one.
class TestDaemon {
 public:
  TestDaemon() {
    char sock_dir[] = "/tmp/shmpool-it-XXXXXX";
    char shm_dir[] = "/dev/shm/shmpool-it-XXXXXX";
    sock_dir_ = mkdtemp(sock_dir);
    shm_dir_ = mkdtemp(shm_dir);
    socket_ = sock_dir_ + "/shmpoold.sock";
  }
  ~TestDaemon() {
    Stop();
    std::filesystem::remove_all(sock_dir_);
    std::filesystem::remove_all(shm_dir_);
  }

  // Starts shmpoold with extra flags and waits until it answers.
  void Start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {SHMPOOLD_PATH, "--listen", endpoint(), "--shm-dir", shm_dir_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<Child>(argv, log_path());
    // Connect only once the socket exists: a channel that fails first backs off for seconds.
    struct stat st {};
    for (int i = 0; i < 200 && stat(socket_.c_str(), &st) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    channel_ = grpc::CreateCustomChannel(endpoint(), grpc::InsecureChannelCredentials(), args);
    arenas_ = v1::ArenaService::NewStub(channel_);
    sessions_ = v1::SessionService::NewStub(channel_);
    stats_ = v1::StatsService::NewStub(channel_);
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
      v1::ListArenasResponse resp;
      if (arenas_->ListArenas(&ctx, {}, &resp).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "shmpoold did not come up; its log:\n" << Log();
  }
  // SIGTERM and wait: the exit status.
  int Stop() {
    if (!daemon_) return -1;
    // Close our connection first: the daemon gives open connections up to 2 s to finish.
    arenas_.reset();
    sessions_.reset();
    stats_.reset();
    channel_.reset();
    daemon_->Kill(SIGTERM);
    const int rc = daemon_->Wait();
    daemon_.reset();
    return rc;
  }

  // Sends `sig` to the running daemon (a no-op once stopped).
  void Signal(int sig) {
    if (daemon_) daemon_->Kill(sig);
  }

  std::string endpoint() const { return "unix:" + socket_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& shm_dir() const { return shm_dir_; }
  std::string log_path() const { return sock_dir_ + "/shmpoold.log"; }
  std::string Log() const {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string SegmentPath(const std::string& id) const {
    return shm_dir_ + "/shmpool." + id + ".seg";
  }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  v1::ArenaService::Stub& arenas() { return *arenas_; }
  v1::SessionService::Stub& sessions() { return *sessions_; }
  v1::StatsService::Stub& stats() { return *stats_; }

 private:
  std::string sock_dir_, shm_dir_, socket_;
  std::unique_ptr<Child> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ArenaService::Stub> arenas_;
  std::unique_ptr<v1::SessionService::Stub> sessions_;
  std::unique_ptr<v1::StatsService::Stub> stats_;
};

// Bytes a file holds (st_blocks * 512).
inline uint64_t BlocksOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// Creates arena `id` of `capacity` bytes (a fatal failure when the daemon refuses).
inline void CreateArena(TestDaemon& d, const std::string& id, uint64_t capacity) {
  v1::CreateArenaRequest req;
  req.set_arena_id(id);
  req.mutable_arena()->set_capacity_bytes(capacity);
  v1::Arena resp;
  grpc::ClientContext ctx;
  grpc::Status st = d.arenas().CreateArena(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
}

// The stats of arena `id` (an empty message, and a failed EXPECT, when the call fails).
inline v1::ArenaStats StatsOf(TestDaemon& d, const std::string& id) {
  v1::GetStatsRequest req;
  req.set_name("arenas/" + id);
  v1::GetStatsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = d.stats().GetStats(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.arenas_size() ? resp.arenas(0) : v1::ArenaStats();
}

// Waits up to `seconds` until the arena's stats show `n` clients.
inline bool WaitForClients(TestDaemon& d, const std::string& id, int n, int seconds = 5) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (StatsOf(d, id).clients_size() == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace shmpool::testing
