// attach_scale_bench: attach latency as users see it, at a count of processes already
// attached and allocating, and GetStats latency meanwhile.
//
// For each count K (--attached, default 1,100,1000) it starts its own shmpoold (private
// socket and shm directory, one arena of the default geometry, 1 GiB), forks K load
// processes (before any gRPC in this process) that each shmpool_attach (32 attaches in
// flight at most) and run 4 threads: bursts of 256 mixed malloc/free operations (some
// blocks handed to other processes through a shared mailbox and freed there), then a
// 100 ms pause; all stay attached. Once all K are attached it starts --probes fresh
// processes, one at a time (this executable, --probe): each times shmpool_attach from its
// start to its return (CLOCK_MONOTONIC) and reports it. Meanwhile a thread of this process
// calls GetStats on the arena every 10 ms. Printed per K: attach p50/p99/max and GetStats
// p50/p99/max, in ms. Targets at K = 1000: attach p99 <= 5 ms, GetStats p99 <= 1 ms.
// Each K runs in a fresh process of its own (--run K PROBES SHMPOOLD), which forks the load
// before any gRPC starts there. Not a test: it prints numbers; --smoke runs K = 1, 5 probes.
//
//   attach_scale_bench [--attached 1,100,1000] [--probes 50] [--shmpoold PATH] [--smoke]
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/src/percentiles.h"
#include "shmpool/shmpool.h"
#include "shmpool/v1/stats.grpc.pb.h"
#include "tests/support/process_barrier.h"
#include "tests/support/spawn_logged.h"

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using shmpool::bench::Summarize;
using shmpool::bench::Summary;
using shmpool::testing::ProcessBarrier;
using shmpool::testing::SpawnLogged;

constexpr int kThreads = 4;
constexpr int kBurst = 256;
constexpr milliseconds kPause{100};
constexpr int kMailbox = 4096;
constexpr int kHeld = 32;
constexpr const char* kArena = "scale";

// What the load processes share (anonymous MAP_SHARED, made before the forks).
struct Shared {
  sem_t attach_slots;
  ProcessBarrier attached;
  ProcessBarrier stop;  // the supervisor arrives once: the load ends
  std::atomic<uint32_t> failed_attaches;
  std::atomic<uint64_t> ops;
  std::atomic<uint64_t> failed_mallocs;
  std::atomic<uint64_t> mailbox[kMailbox];
};

void LoadThread(shmpool_client* c, Shared* sh, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<void*> held;
  while (!sh->stop.Wait(1, kPause)) {  // the pause: 100 ms, or the stop
    for (int i = 0; i < kBurst; ++i) {
      const uint32_t r = static_cast<uint32_t>(rng() % 100);
      if (held.size() < kHeld && (held.empty() || r < 50)) {
        void* p = shmpool_malloc(c, 16 + rng() % 4080);
        if (p == nullptr)
          sh->failed_mallocs.fetch_add(1, std::memory_order_relaxed);
        else
          held.push_back(p);
      } else if (r < 85) {
        shmpool_free(c, held.back());
        held.pop_back();
      } else {  // hand one over, free what was there (another process's block, usually)
        const uint64_t prev =
            sh->mailbox[rng() % kMailbox].exchange(shmpool_ref_of(c, held.back()));
        held.pop_back();
        if (prev != 0) shmpool_free(c, shmpool_ptr_of(c, prev));
      }
    }
    sh->ops.fetch_add(kBurst, std::memory_order_relaxed);
  }
  for (void* p : held) shmpool_free(c, p);
}

[[noreturn]] void LoadMain(const std::string& endpoint, Shared* sh, int index) {
  shmpool_client* c = nullptr;
  sem_wait(&sh->attach_slots);
  const int rc = shmpool_attach(endpoint.c_str(), kArena, &c);
  sem_post(&sh->attach_slots);
  if (rc != 0) {
    std::fprintf(stderr, "load %d: attach failed: %s\n", index, shmpool_last_error());
    sh->failed_attaches.fetch_add(1);
  }
  sh->attached.Arrive();
  if (rc != 0) _exit(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back(LoadThread, c, sh, static_cast<uint64_t>(index) * kThreads + t + 1);
  for (std::thread& th : threads) th.join();
  shmpool_detach(c);
  _exit(0);
}

// --probe ENDPOINT ARENA: one fresh process's attach, in nanoseconds on stdout.
int ProbeMain(const char* endpoint, const char* arena) {
  shmpool_client* c = nullptr;
  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const int rc = shmpool_attach(endpoint, arena, &c);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (rc != 0) {
    std::fprintf(stderr, "probe: attach failed: %s\n", shmpool_last_error());
    return 1;
  }
  const long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  std::printf("%lld\n", ns);
  std::fflush(stdout);
  shmpool_detach(c);
  return 0;
}

// One probe: spawns `self --probe`, returns its attach time in ms (negative on failure).
double Probe(const std::string& self, const std::string& endpoint, const std::string& log) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = SpawnLogged({self, "--probe", endpoint, kArena}, log, fds[1]);
  close(fds[1]);
  char buf[64] = {};
  ssize_t got = 0;
  for (ssize_t r; (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0;) got += r;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (pid <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got == 0) return -1;
  return std::atof(buf) / 1e6;
}

struct Row {
  int attached = 0;
  Summary attach, stats;
  int failed_probes = 0;
  uint32_t failed_attaches = 0;
  uint64_t ops = 0, failed_mallocs = 0;
};

Row RunAt(const std::string& self, const std::string& shmpoold, int count, int probes) {
  char dir_t[] = "/tmp/shmpool-attach-bench-XXXXXX";
  char shm_t[] = "/dev/shm/shmpool-attach-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_t), shm_dir = mkdtemp(shm_t);
  const std::string socket = dir + "/shmpoold.sock", endpoint = "unix:" + socket;
  const std::string config = dir + "/shmpoold.toml", log = dir + "/shmpoold.log";
  const std::string segment = shm_dir + "/shmpool." + kArena + ".seg";
  std::ofstream(config) << "[[arena]]\nname = \"" << kArena << "\"\ncapacity = \"1GiB\"\n";
  const pid_t daemon =
      SpawnLogged({shmpoold, "--listen", endpoint, "--shm-dir", shm_dir, "--config", config}, log);
  struct stat st {};
  for (int i = 0; i < 3000 && (stat(socket.c_str(), &st) != 0 || stat(segment.c_str(), &st) != 0);
       ++i)
    std::this_thread::sleep_for(milliseconds(10));

  auto* sh = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  sem_init(&sh->attach_slots, 1, 32);
  std::vector<pid_t> load;
  for (int i = 0; i < count; ++i) {
    const pid_t pid = fork();
    if (pid == 0) LoadMain(endpoint, sh, i);
    load.push_back(pid);
  }
  sh->attached.Wait(static_cast<uint32_t>(count), milliseconds(600000));

  // GetStats every 10 ms while the probes run.
  std::atomic<bool> probing{true};
  std::vector<double> stats_ms;
  std::thread poller([&] {
    auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
    auto stub = shmpool::v1::StatsService::NewStub(channel);
    shmpool::v1::GetStatsRequest req;
    req.set_name(std::string("arenas/") + kArena);
    while (probing.load()) {
      grpc::ClientContext ctx;
      shmpool::v1::GetStatsResponse resp;
      const auto t0 = Clock::now();
      const grpc::Status s = stub->GetStats(&ctx, req, &resp);
      const auto t1 = Clock::now();
      if (s.ok()) stats_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      std::this_thread::sleep_for(milliseconds(10));
    }
  });
  Row row;
  row.attached = count;
  std::vector<double> attach_ms;
  for (int i = 0; i < probes; ++i) {
    const double ms = Probe(self, endpoint, log);
    if (ms < 0)
      ++row.failed_probes;
    else
      attach_ms.push_back(ms);
  }
  probing = false;
  poller.join();
  sh->stop.Arrive();
  for (pid_t p : load) waitpid(p, nullptr, 0);
  row.attach = Summarize(attach_ms);
  row.stats = Summarize(stats_ms);
  row.failed_attaches = sh->failed_attaches.load();
  row.ops = sh->ops.load();
  row.failed_mallocs = sh->failed_mallocs.load();
  munmap(sh, sizeof(Shared));
  kill(daemon, SIGTERM);
  waitpid(daemon, nullptr, 0);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(shm_dir);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--probe") == 0) return ProbeMain(argv[2], argv[3]);
  if (argc == 5 && std::strcmp(argv[1], "--run") == 0) {
    const std::string self = std::filesystem::read_symlink("/proc/self/exe");
    const Row r = RunAt(self, argv[4], std::atoi(argv[2]), std::atoi(argv[3]));
    std::printf(
        "%9d %7zu | %7.2f %8.2f %8.2f | %7.3f %8.3f %8.3f | %lu ops, %u attach, %d probe, "
        "%lu malloc\n",
        r.attached, r.attach.n, r.attach.p50, r.attach.p99, r.attach.max, r.stats.p50, r.stats.p99,
        r.stats.max, r.ops, r.failed_attaches, r.failed_probes, r.failed_mallocs);
    return 0;
  }
  std::vector<int> counts = {1, 100, 1000};
  int probes = 50;
  std::string shmpoold = SHMPOOLD_PATH;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--smoke") {
      counts = {1};
      probes = 5;
    } else if (a == "--attached" && i + 1 < argc) {
      counts.clear();
      for (char* s = std::strtok(argv[++i], ","); s; s = std::strtok(nullptr, ","))
        counts.push_back(std::atoi(s));
    } else if (a == "--probes" && i + 1 < argc) {
      probes = std::atoi(argv[++i]);
    } else if (a == "--shmpoold" && i + 1 < argc) {
      shmpoold = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--attached 1,100,1000] [--probes 50] [--shmpoold PATH] [--smoke]\n",
                   argv[0]);
      return 2;
    }
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  std::printf("%9s %7s | %-26s | %-26s | %s\n", "attached", "probes", "attach ms p50/p99/max",
              "GetStats ms p50/p99/max", "load ops, failures");
  std::fflush(stdout);
  // Each count in a fresh process (--run): the load is forked before any gRPC runs there.
  for (int count : counts) {
    const pid_t pid =
        SpawnLogged({self, "--run", std::to_string(count), std::to_string(probes), shmpoold}, "");
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
  return 0;
}
