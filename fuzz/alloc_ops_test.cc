// Replays every input of the checked-in corpus (fuzz/corpus/alloc_ops) through the
// operation-sequence fuzzer's body (alloc_ops.h), so each ctest build (debug, ASan, TSan)
// runs those sequences: each must agree with the model at every step.
#include "fuzz/alloc_ops.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shmpool::fuzz {
namespace {

TEST(AllocOps, EveryCorpusInputAgreesWithTheModel) {
  std::vector<std::filesystem::path> inputs;
  for (const auto& e : std::filesystem::directory_iterator(SHMPOOL_ALLOC_OPS_CORPUS))
    inputs.push_back(e.path());
  ASSERT_GE(inputs.size(), 8u) << "corpus missing: " << SHMPOOL_ALLOC_OPS_CORPUS;
  for (const std::filesystem::path& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(RunAllocOps(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), "")
        << p.filename();
  }
}

}  // namespace
}  // namespace shmpool::fuzz
