// control_plane_bench: measures shmpoold's control plane against its targets.
//
//   attach     Client::Attach (AttachArena RPC, map the segment, claim a process record,
//              open the session stream) until it returns: target p99 <= 5 ms
//   get_stats  GetStats over the Unix socket while two other processes allocate and free
//              flat out: target p99 <= 1 ms
//   purge      PurgeArena of an arena holding 1 GiB of free, backed pages: target <= 100 ms
//
// It starts its own shmpoold (private socket and shm directory) and spawns its allocating
// processes as fresh executables of itself (--hammer), never forks after gRPC started.
// Not a test: it prints numbers and whether each target is met; --smoke runs it briefly.
//
//   control_plane_bench [--smoke] [--shmpoold PATH] [--nice N]
//
// --nice N (negative: higher priority; needs root) runs the daemon and the measuring
// client at nice N, as a deployment would (systemd Nice=), so that on a machine with fewer
// cores than runnable threads the latency measured is the daemon's, not the scheduler's.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/src/percentiles.h"
#include "shmpool/client.h"
#include "shmpool/v1/arena.grpc.pb.h"
#include "shmpool/v1/stats.grpc.pb.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using shmpool::bench::Summarize;
using shmpool::bench::Summary;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

pid_t Spawn(const std::vector<std::string>& argv, const std::string& stderr_path = "") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!stderr_path.empty())
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// --hammer ENDPOINT ARENA MILLIS: allocate and free flat out, then print the op count.
int Hammer(const std::string& endpoint, const std::string& arena, long millis) {
  auto c = shmpool::Client::Attach(endpoint, arena);
  if (!c.ok()) {
    std::fprintf(stderr, "hammer: %s\n", std::string(c.status().message()).c_str());
    return 1;
  }
  const auto end = Clock::now() + std::chrono::milliseconds(millis);
  std::vector<void*> live(512, nullptr);
  uint64_t ops = 0;
  while (Clock::now() < end) {
    for (int k = 0; k < 4096; ++k, ++ops) {
      void*& slot = live[(ops * 7919) % live.size()];
      if (slot) {
        (*c)->Free(slot);
        slot = nullptr;
      } else {
        slot = (*c)->Allocate(16 + (ops % 32) * 16);
      }
    }
  }
  for (void* p : live) (*c)->Free(p);
  std::fprintf(stderr, "hammer %d: %llu malloc/free ops\n", static_cast<int>(getpid()),
               static_cast<unsigned long long>(ops));
  return 0;
}

void Create(shmpool::v1::ArenaService::Stub& stub, const std::string& id, uint64_t capacity) {
  shmpool::v1::CreateArenaRequest req;
  req.set_arena_id(id);
  req.mutable_arena()->set_capacity_bytes(capacity);
  shmpool::v1::Arena resp;
  grpc::ClientContext ctx;
  grpc::Status st = stub.CreateArena(&ctx, req, &resp);
  if (!st.ok()) std::fprintf(stderr, "create %s: %s\n", id.c_str(), st.error_message().c_str());
}

void Report(const char* what, const Summary& s, double target_us, const char* unit_note) {
  std::printf("%-10s p50 %9.1f us  p99 %9.1f us  max %9.1f us  target p99 <= %.0f us %s: %s\n",
              what, s.p50, s.p99, s.max, target_us, unit_note,
              s.p99 <= target_us ? "MET" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--hammer") == 0)
    return Hammer(argv[2], argv[3], std::atol(argv[4]));
  bool smoke = false;
  int nice_value = 0;
  std::string shmpoold = SHMPOOLD_PATH;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) smoke = true;
    if (std::strcmp(argv[i], "--shmpoold") == 0 && i + 1 < argc) shmpoold = argv[++i];
    if (std::strcmp(argv[i], "--nice") == 0 && i + 1 < argc) nice_value = std::atoi(argv[++i]);
  }
  char sock_tmpl[] = "/tmp/shmpool-bench-XXXXXX";
  char shm_tmpl[] = "/dev/shm/shmpool-bench-XXXXXX";
  const std::string sock_dir = mkdtemp(sock_tmpl), shm_dir = mkdtemp(shm_tmpl);
  const std::string endpoint = "unix:" + sock_dir + "/d.sock";
  const pid_t daemon =
      Spawn({shmpoold, "--listen", endpoint, "--shm-dir", shm_dir}, sock_dir + "/shmpoold.log");
  if (nice_value != 0 && (setpriority(PRIO_PROCESS, daemon, nice_value) != 0 ||
                          setpriority(PRIO_PROCESS, 0, nice_value) != 0))
    std::perror("setpriority");
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto arenas = shmpool::v1::ArenaService::NewStub(channel);
  auto stats = shmpool::v1::StatsService::NewStub(channel);
  for (int i = 0; i < 100; ++i) {
    shmpool::v1::ListArenasResponse r;
    grpc::ClientContext ctx;
    if (arenas->ListArenas(&ctx, {}, &r).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Create(*arenas, "bench", uint64_t{256} << 20);
  Create(*arenas, "purge", uint64_t{1280} << 20);
  std::printf("shmpoold %s, endpoint %s, nice %d%s\n", shmpoold.c_str(), endpoint.c_str(),
              nice_value, smoke ? " (smoke)" : "");

  // attach
  std::vector<double> attach;
  for (int i = 0; i < (smoke ? 20 : 300); ++i) {
    const auto t0 = Clock::now();
    auto c = shmpool::Client::Attach(endpoint, "bench");
    attach.push_back(Micros(Clock::now() - t0));
    if (!c.ok()) std::fprintf(stderr, "attach: %s\n", std::string(c.status().message()).c_str());
  }
  Report("attach", Summarize(attach), 5000, "     ");

  // get_stats while two processes allocate flat out
  const long hammer_ms = smoke ? 1500 : 6000;
  std::vector<pid_t> hammers;
  for (int i = 0; i < 2; ++i)
    hammers.push_back(
        Spawn({"/proc/self/exe", "--hammer", endpoint, "bench", std::to_string(hammer_ms)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<double> lat;
  shmpool::v1::GetStatsRequest req;
  req.set_name("arenas/bench");
  const auto stop = Clock::now() + std::chrono::milliseconds(hammer_ms - 500);
  while (Clock::now() < stop) {
    shmpool::v1::GetStatsResponse resp;
    grpc::ClientContext ctx;
    const auto t0 = Clock::now();
    grpc::Status st = stats->GetStats(&ctx, req, &resp);
    lat.push_back(Micros(Clock::now() - t0));
    if (!st.ok()) std::fprintf(stderr, "GetStats: %s\n", st.error_message().c_str());
  }
  for (pid_t p : hammers) waitpid(p, nullptr, 0);
  Report("get_stats", Summarize(lat), 1000, "     ");
  std::printf("           (%zu calls while 2 processes allocated and freed flat out)\n",
              lat.size());

  // purge of 1 GiB of free pages
  {
    auto c = shmpool::Client::Attach(endpoint, "purge");
    std::vector<void*> blocks;
    for (int i = 0; i < 1024; ++i) blocks.push_back((*c)->Allocate(1 << 20));
    for (void* p : blocks) (*c)->Free(p);
    shmpool::v1::PurgeArenaRequest preq;
    preq.set_name("arenas/purge");
    shmpool::v1::PurgeArenaResponse presp;
    grpc::ClientContext ctx;
    const auto t0 = Clock::now();
    grpc::Status st = arenas->PurgeArena(&ctx, preq, &presp);
    const double rpc_ms = Micros(Clock::now() - t0) / 1000;
    const auto& d = presp.arenas(0).duration();
    const double server_ms = d.seconds() * 1e3 + d.nanos() / 1e6;
    std::printf(
        "purge      released %.2f GiB: %.1f ms in the daemon, %.1f ms RPC; target <= "
        "100 ms: %s\n",
        presp.released_bytes() / double(1ull << 30), server_ms, rpc_ms,
        st.ok() && rpc_ms <= 100 ? "MET" : "MISSED");
  }

  kill(daemon, SIGTERM);
  waitpid(daemon, nullptr, 0);
  std::filesystem::remove_all(sock_dir);
  std::filesystem::remove_all(shm_dir);
  return 0;
}
