// Golden instruction counts of the fast paths applications call: shmpool_malloc(64) and
// shmpool_free through the C ABI, Client::Allocate(64) and Client::Free through the C++
// API, each on the hit path, counted by callgrind and compared with abi_counts_golden.h.
//
// abi_counts_probe runs under `valgrind --tool=callgrind --collect-atstart=no` with
// --toggle-collect on the four entry points, so only instructions inside them count (the
// caller's argument set-up and loop are not part of it). It attaches through a private
// shmpoold (TestDaemon, started here, not under valgrind) and dumps the costs after N and
// after 2N more malloc+free pairs; per call = (cost(2N) - cost(N)) / N, which cancels every
// fixed cost. On the hit path every call executes the same instructions, so the
// difference must be an exact multiple of N: anything else means a slow path ran in the
// loop, and the test says so instead of comparing.
//
// The build type: CI runs the debug preset, whose -O0 counts are not what users get (and
// the asan preset's instrumented code runs neither under valgrind nor at user speed). The
// probe and the client library it links (shmpool_client_release, client/CMakeLists.txt:
// the same sources compiled with the Release flags) are optimised in every build type;
// the fast paths are inline in shm/heap.h and client.h, so they are compiled with those
// flags too, whatever flags libshmpool_shm itself has. A Release build links shmpool_client
// itself. The cost in CI: one extra compile of the four client sources and one valgrind
// run of a few seconds (gRPC's start-up under valgrind dominates). No timing is involved.
// The test skips only when valgrind is not installed (scripts/install-deps.sh installs it).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "abi_counts_golden.h"
#include "callgrind_costs.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace shmpool::testing {
namespace {

constexpr uint64_t kN = 1000;  // abi_counts_probe's kN

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AbiCountsTest, HitPathInstructionsPerCallAtMostGolden) {
  if (std::string(SHMPOOL_VALGRIND).empty() || access(SHMPOOL_VALGRIND, X_OK) != 0)
    GTEST_SKIP() << "valgrind is not installed (scripts/install-deps.sh installs it)";
  TestDaemon d;
  d.Start();
  char dir_template[] = "/tmp/shmpool-abi-counts-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string log = dir + "/valgrind.log";
  const std::vector<std::string> argv = {SHMPOOL_VALGRIND,
                                         "--tool=callgrind",
                                         "--collect-atstart=no",
                                         "--toggle-collect=shmpool_malloc",
                                         "--toggle-collect=shmpool_free",
                                         "--toggle-collect=abi_counts_cxx_allocate",
                                         "--toggle-collect=abi_counts_cxx_free",
                                         "--callgrind-out-file=" + dir + "/cg.%p",
                                         ABI_COUNTS_PROBE,
                                         d.endpoint()};
  Child vg(argv, log);
  const std::string out = vg.ReadAll();
  ASSERT_EQ(vg.Wait(), 0) << out << ReadFile(log);
  ASSERT_EQ(out, "N " + std::to_string(kN) + "\n");

  std::map<std::string, CallgrindDump> dumps;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().filename().string().rfind("cg.", 0) != 0) continue;
    CallgrindDump dump = ReadCallgrindDump(f.path());
    dumps[dump.trigger] = std::move(dump);
  }
  std::filesystem::remove_all(dir);

  struct Entry {
    const char* api;
    const char* function;
    int golden;
  };
  const Entry entries[] = {
      {"c", "shmpool_malloc", kGoldenShmpoolMalloc},
      {"c", "shmpool_free", kGoldenShmpoolFree},
      {"cxx", "abi_counts_cxx_allocate", kGoldenClientAllocate},
      {"cxx", "abi_counts_cxx_free", kGoldenClientFree},
  };
  for (const Entry& e : entries) {
    const std::string n = std::string(e.api) + "_n", n2 = std::string(e.api) + "_2n";
    ASSERT_TRUE(dumps.count(n) && dumps.count(n2)) << "no dump " << n << " or " << n2;
    const uint64_t at_n = dumps[n].inclusive[e.function];
    const uint64_t at_2n = dumps[n2].inclusive[e.function];
    ASSERT_GT(at_n, 0u) << e.function << " was not counted";
    const uint64_t diff = at_2n - at_n;
    ASSERT_EQ(diff % kN, 0u) << e.function << ": " << at_n << " instructions for N calls, " << at_2n
                             << " for 2N: not the same per call, a slow path ran";
    const uint64_t per_call = diff / kN;
    printf("%-24s %3llu instructions per call (golden %d)\n", e.function,
           static_cast<unsigned long long>(per_call), e.golden);
    EXPECT_LE(per_call, static_cast<uint64_t>(e.golden))
        << e.function << " takes more instructions per call than abi_counts_golden.h says";
  }
}

}  // namespace
}  // namespace shmpool::testing
