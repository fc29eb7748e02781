// shmpool_bench_<malloc>: runs one allocator's column of the benchmark table and prints
// ACTIVE/RESULT lines (runners.h). bench/run.sh runs the binaries interleaved, several
// times, and turns the lines into the table.
//
//   shmpool_bench_<malloc> --alloc=NAME [--smoke] [--callgrind]
//   NAME: glibc | jemalloc | tcmalloc | mimalloc   (must be the malloc this binary links)
//         shmpool | boost_msm | boost_cna | limit
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/src/fail.h"
#include "bench/src/runners.h"

namespace shmpool::bench {

void PrintActive(const std::string& alloc, const std::string& evidence) {
  std::printf("ACTIVE %s %s\n", alloc.c_str(), evidence.c_str());
  std::fflush(stdout);
}

void PrintResult(const std::string& workload, const std::string& alloc, double ns) {
  std::printf("RESULT %s %s %.3f\n", workload.c_str(), alloc.c_str(), ns);
  std::fflush(stdout);
}

void PrintCallgrindN(uint64_t n) {
  std::printf("CALLGRIND_N %llu\n", static_cast<unsigned long long>(n));
  std::fflush(stdout);
}

namespace {

int Main(int argc, char** argv) {
  std::string alloc;
  RunOptions o{.counts = kFullCounts};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--alloc=", 8) == 0) {
      alloc = argv[i] + 8;
    } else if (std::strcmp(argv[i], "--smoke") == 0) {
      o.smoke = true;
      o.counts = kSmokeCounts;
    } else if (std::strcmp(argv[i], "--callgrind") == 0) {
      o.callgrind = true;
    } else {
      Fail(std::string("unknown argument ") + argv[i] +
           "; usage: --alloc=NAME [--smoke] [--callgrind]");
    }
  }
  if (alloc == "glibc" || alloc == "jemalloc" || alloc == "tcmalloc" || alloc == "mimalloc")
    RunMalloc(alloc, o);
  else if (alloc == "shmpool")
    RunShmpool(o);
  else if (alloc == "boost_msm")
    RunBoostMsm(o);
  else if (alloc == "boost_cna")
    RunBoostCna(o);
  else if (alloc == "limit")
    RunLimit(o);
  else
    Fail(
        "--alloc=NAME is required (glibc jemalloc tcmalloc mimalloc shmpool boost_msm "
        "boost_cna limit), got '" +
        alloc + "'");
  return 0;
}

}  // namespace
}  // namespace shmpool::bench

int main(int argc, char** argv) { return shmpool::bench::Main(argc, argv); }
