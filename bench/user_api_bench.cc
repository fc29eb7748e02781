// What applications call, beside what bench/src measures: the four workloads below through
// the C ABI (shmpool_malloc/shmpool_free of libshmpool_client, attached to a segment file
// with shmpool_attach_segment: the same fast path as an attach through the daemon), through
// shm::Heap's inline Allocate/Free (what shmpool_bench measures), and through the binary's
// malloc/free, all in one run under Google Benchmark. One binary per malloc, linked as
// bench/CMakeLists.txt links shmpool_bench_<malloc>; each checks at startup that its malloc
// really is the one --malloc=NAME names (src/active_allocator.h). user_api_run.sh runs them
// alternately and prints medians. Workloads (ns per op, from items_per_second):
//   pair:  malloc(64), free; one op per pair.
//   lifo:  1000 x malloc(64), then the frees in reverse order; one op per block.
//   churn: 10,000 live blocks of 16..1024 B (src/local_workloads.h ChurnOps, fixed seed);
//          one op per free + malloc of a random slot.
//   fifo:  a window of 256 live packets of 64, 256, 1500 and 2048 B in turn; each op frees
//          the oldest, allocates the next and writes its first byte.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/src/active_allocator.h"
#include "bench/src/clock.h"
#include "bench/src/fail.h"
#include "bench/src/local_workloads.h"
#include "bench/src/malloc_backend.h"
#include "bench/src/shmpool_backend.h"
#include "shmpool/shmpool.h"

namespace shmpool::bench {
namespace {

constexpr uint64_t kCapacity = uint64_t{1} << 30;
constexpr int kLifo = 1000;
constexpr int kWindow = 256;
constexpr int kChurnPerIteration = 1000;
constexpr int kFifoPerIteration = 1024;
constexpr size_t kPacketSizes[] = {64, 256, 1500, 2048};

// shmpool through its C ABI, attached to a segment file of its own.
class CAbiBackend {
 public:
  CAbiBackend() : file_(kCapacity) {
    if (shmpool_attach_segment(file_.path().c_str(), &c_) != 0)
      Fail(std::string("shmpool_attach_segment: ") + shmpool_last_error());
  }
  ~CAbiBackend() { shmpool_detach(c_); }
  void* Allocate(size_t n) { return shmpool_malloc(c_, n); }
  void Free(void* p) { shmpool_free(c_, p); }

 private:
  SegmentFile file_;
  shmpool_client* c_ = nullptr;
};

template <class B>
void Pair(benchmark::State& s, B* b) {
  for (auto _ : s) {
    void* p = b->Allocate(64);
    Escape(p);
    b->Free(p);
  }
  s.SetItemsProcessed(s.iterations());
}

template <class B>
void Lifo(benchmark::State& s, B* b) {
  std::vector<void*> v(kLifo);
  for (auto _ : s) {
    for (void*& p : v) {
      p = b->Allocate(64);
      Escape(p);
    }
    for (int i = kLifo - 1; i >= 0; --i) b->Free(v[i]);
  }
  if (v.front() == nullptr) Fail("lifo: allocation failed");
  s.SetItemsProcessed(s.iterations() * kLifo);
}

template <class B>
void Churn(benchmark::State& s, B* b) {
  SplitMix64 rng(kChurnSeed);
  std::vector<char*> live(kLiveSet);
  for (char*& p : live) {
    const uint32_t r = static_cast<uint32_t>(rng.Next());
    p = static_cast<char*>(b->Allocate(kChurnMin + Below(r, kChurnMax - kChurnMin + 1)));
    if (p == nullptr) Fail("churn: allocation failed");
    p[0] = 1;
  }
  for (auto _ : s) ChurnOps(*b, live, rng, kChurnPerIteration);
  for (char* p : live) {
    if (p == nullptr) Fail("churn: allocation failed");
    b->Free(p);
  }
  s.SetItemsProcessed(s.iterations() * kChurnPerIteration);
}

template <class B>
__attribute__((noinline)) void FifoOps(B& b, char** window, uint64_t& next, int ops) {
  for (int i = 0; i < ops; ++i, ++next) {
    char*& slot = window[next % kWindow];
    b.Free(slot);
    slot = static_cast<char*>(b.Allocate(kPacketSizes[next % 4]));
    slot[0] = static_cast<char>(next);
  }
}

template <class B>
void Fifo(benchmark::State& s, B* b) {
  std::vector<char*> window(kWindow);
  uint64_t next = 0;
  for (; next < kWindow; ++next) {
    window[next] = static_cast<char*>(b->Allocate(kPacketSizes[next % 4]));
    if (window[next] == nullptr) Fail("fifo: allocation failed");
  }
  for (auto _ : s) FifoOps(*b, window.data(), next, kFifoPerIteration);
  for (char* p : window) {
    if (p == nullptr) Fail("fifo: allocation failed");
    b->Free(p);
  }
  s.SetItemsProcessed(s.iterations() * kFifoPerIteration);
}

template <class B>
void Register(const std::string& backend, B* b) {
  benchmark::RegisterBenchmark(("pair/" + backend).c_str(), Pair<B>, b);
  benchmark::RegisterBenchmark(("lifo/" + backend).c_str(), Lifo<B>, b);
  benchmark::RegisterBenchmark(("churn/" + backend).c_str(), Churn<B>, b);
  benchmark::RegisterBenchmark(("fifo/" + backend).c_str(), Fifo<B>, b);
}

}  // namespace
}  // namespace shmpool::bench

// --malloc=NAME (glibc, jemalloc, tcmalloc or mimalloc, the one this binary is linked with)
// first, then Google Benchmark's flags.
int main(int argc, char** argv) {
  using namespace shmpool::bench;
  const std::string flag = "--malloc=";
  if (argc < 2 || std::string(argv[1]).rfind(flag, 0) != 0)
    Fail("usage: " + std::string(argv[0]) + " --malloc=NAME [benchmark flags]");
  const std::string name = std::string(argv[1]).substr(flag.size());
  argv[1] = argv[0];
  --argc;
  ++argv;
  std::string evidence;
  if (!VerifyActiveMalloc(name, &evidence))
    Fail("this binary's malloc is not " + name + ": " + evidence);
  fprintf(stderr, "ACTIVE %s %s\n", name.c_str(), evidence.c_str());
  MallocBackend malloc_backend;
  Register(name, &malloc_backend);
  // The shmpool backends run in the glibc binary only (their code does not depend on the
  // process's malloc).
  std::unique_ptr<CAbiBackend> c_abi;
  std::unique_ptr<ShmpoolBackend> heap;
  if (name == "glibc") {
    c_abi = std::make_unique<CAbiBackend>();
    heap = std::make_unique<ShmpoolBackend>(kCapacity);
    Register("shmpool_c_abi", c_abi.get());
    Register("shmpool_heap", heap.get());
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
