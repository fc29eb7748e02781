// False sharing between two processes through an object pool (shm/pool.h).
//
// Two processes increment counters in objects of the same pool, each in its own objects
// (taken from the pool by the parent and split alternately), flat out. Without padding, 8-byte
// objects got back to back share cache lines, so the two processes' writes ping-pong the line
// between cores; with cache_line_pad every object has its own 64-byte line. Prints ns per increment
// for both layouts.
// `--smoke` runs a few thousand iterations (ctest) and checks only that the counts are
// exact; timing is never asserted.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "shm/pool.h"
#include "shm/segment.h"

namespace {

using shmpool::shm::Pool;
using shmpool::shm::PoolSpec;
using shmpool::shm::Segment;

constexpr int kObjectsPerProc = 4;

// Child: increments its objects (segment offsets) `iters` times round-robin, checks the
// count, returns ns per increment.
double RunChild(const std::string& path, const uint64_t* offs, uint64_t iters, int fd) {
  auto seg = Segment::Open(path);
  if (!seg.ok()) _exit(2);
  volatile uint64_t* obj[kObjectsPerProc];
  for (int i = 0; i < kObjectsPerProc; ++i)
    obj[i] = reinterpret_cast<volatile uint64_t*>((*seg)->base() + offs[i]);
  char go;
  if (read(fd, &go, 1) != 1) _exit(5);  // start together
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < iters; ++i) *obj[i % kObjectsPerProc] = *obj[i % kObjectsPerProc] + 1;
  const auto t1 = std::chrono::steady_clock::now();
  uint64_t sum = 0;
  for (auto& o : obj) sum += *o;
  if (sum != iters) _exit(6);
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(iters);
}

// Runs two children on one pool layout; returns the slower child's ns per increment.
double Measure(bool pad, uint64_t iters) {
  const std::string path = "/dev/shm/shmpool-bench-fs-" + std::to_string(getpid());
  shmpool::shm::Geometry g;
  g.capacity = 16 << 20;
  g.max_procs = 8;
  g.max_thread_caches = 8;
  auto created = Segment::Create(path, g);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", std::string(created.status().message()).c_str());
    std::exit(1);
  }
  std::shared_ptr<Segment> seg(std::move(*created));
  PoolSpec spec{.name = "fs",
                .object_size = 8,
                .count = 2 * kObjectsPerProc,
                .align = 8,
                .cache_line_pad = pad,
                .caches = 4};
  if (!shmpool::shm::CreatePool(*seg, spec).ok()) std::exit(1);
  // The parent gets every object; child k increments objects k, k + 2, ... in address
  // order, so packed objects of the two children alternate within each cache line.
  auto pool = Pool::Open(seg, 0, "fs");
  if (!pool.ok()) std::exit(1);
  std::vector<uint64_t> all;
  for (int i = 0; i < 2 * kObjectsPerProc; ++i) {
    char* p = static_cast<char*>((*pool)->Get());
    std::memset(p, 0, 8);
    all.push_back(static_cast<uint64_t>(p - seg->base()));
  }
  std::sort(all.begin(), all.end());
  uint64_t offs[2][kObjectsPerProc];
  for (int i = 0; i < 2 * kObjectsPerProc; ++i) offs[i % 2][i / 2] = all[i];
  int go[2], res[2][2];
  if (pipe(go) != 0 || pipe(res[0]) != 0 || pipe(res[1]) != 0) std::exit(1);
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = fork();
    if (kids[k] == 0) {
      const double ns = RunChild(path, offs[k], iters, go[0]);
      if (write(res[k][1], &ns, sizeof(ns)) != sizeof(ns)) _exit(7);
      _exit(0);
    }
  }
  if (write(go[1], "ab", 2) != 2) std::exit(1);
  double worst = 0;
  for (int k = 0; k < 2; ++k) {
    double ns = 0;
    int status = 0;
    if (read(res[k][0], &ns, sizeof(ns)) != sizeof(ns)) std::exit(1);
    waitpid(kids[k], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "child failed: status %d\n", status);
      std::exit(1);
    }
    worst = ns > worst ? ns : worst;
  }
  for (uint64_t off : all) (*pool)->Put(seg->base() + off);
  pool->reset();
  seg.reset();
  unlink(path.c_str());
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
  const uint64_t iters = smoke ? 10000 : 200000000;
  const double packed = Measure(false, iters);
  const double padded = Measure(true, iters);
  std::printf("pool false sharing, 2 processes, %llu increments each over %d objects each\n",
              static_cast<unsigned long long>(iters), kObjectsPerProc);
  std::printf("  packed (stride 8):        %.2f ns/increment\n", packed);
  std::printf("  cache_line_pad (stride 64): %.2f ns/increment\n", padded);
  return 0;
}
