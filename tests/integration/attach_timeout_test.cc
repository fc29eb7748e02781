// SHMPOOL_ATTACH_TIMEOUT_MS bounds the whole attach, also when the process already holds a
// connection to a daemon that then stops answering (SIGSTOP): the attach call does not wait
// out the library's 10 s RPC deadline.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "harness.h"

namespace shmpool::testing {
namespace {

TEST(AttachTimeout, BoundsTheAttachCallOnAConnectionToAStoppedDaemon) {
  TestDaemon d;
  d.Start();
  CreateArena(d, "second", 64 << 20);
  setenv("SHMPOOL_ATTACH_TIMEOUT_MS", "1000", 1);
  auto w = AttachedWorker(d.endpoint(), "default");
  unsetenv("SHMPOOL_ATTACH_TIMEOUT_MS");
  d.Signal(SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string reply = w->Ask("attach " + d.endpoint() + " second");
  const auto waited = std::chrono::steady_clock::now() - t0;
  d.Signal(SIGCONT);
  EXPECT_EQ(reply.rfind("err -6 ", 0), 0u) << reply;
  EXPECT_NE(reply.find("within 1000 ms (SHMPOOL_ATTACH_TIMEOUT_MS)"), std::string::npos) << reply;
  EXPECT_LT(waited, std::chrono::milliseconds(3000))
      << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms: " << reply;
}

}  // namespace
}  // namespace shmpool::testing
