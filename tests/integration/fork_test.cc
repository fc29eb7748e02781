// fork() after attaching (worker pools, multiprocessing, a preloaded malloc whose program
// forks): the child of a process attached through shmpoold never hangs in the library. Its
// own shmpool_attach fails at once with SHMPOOL_E_UNAVAILABLE and says to fork before
// attaching or to exec; the parent's handle refuses to allocate and to purge in the child,
// and detaching it there leaves the parent's session alone. The parent keeps its session,
// allocates and frees after the child is gone. The worker waits for each child at most 15 s
// and then kills it, so a hang fails the test.
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "harness.h"

namespace shmpool::testing {
namespace {

// The attach timeout the forked children would have to honour.
constexpr long kAttachTimeoutMs = 2000;

std::unique_ptr<Child> ForkingWorker(const TestDaemon& d) {
  setenv("SHMPOOL_ATTACH_TIMEOUT_MS", std::to_string(kAttachTimeoutMs).c_str(), 1);
  auto w = AttachedWorker(d.endpoint(), "default");
  unsetenv("SHMPOOL_ATTACH_TIMEOUT_MS");
  return w;
}

// The parent still holds its session: the daemon counts it, a purge goes through it, it
// allocates and frees, and the daemon ended no session.
void ExpectParentAttached(TestDaemon& d, Child& w) {
  const std::string refs = w.Ask("alloc 64 10");
  ASSERT_EQ(refs.rfind("ok ", 0), 0u) << refs;
  EXPECT_EQ(w.Ask("free" + refs.substr(2)), "ok");
  EXPECT_EQ(w.Ask("purge").rfind("ok ", 0), 0u);
  EXPECT_EQ(StatsOf(d, "default").clients_size(), 1);
  EXPECT_EQ(d.Log().find("event=session_ended"), std::string::npos) << d.Log();
}

TEST(Fork, ChildOfAnAttachedProcessFailsFastToAttach) {
  TestDaemon d;
  d.Start();
  auto w = ForkingWorker(d);
  const std::string held = w->Ask("alloc 1000 5");
  ASSERT_EQ(held.rfind("ok ", 0), 0u) << held;
  const std::string reply = w->Ask("forkattach " + d.endpoint() + " default");
  const std::vector<std::string> words = Words(reply);
  ASSERT_GE(words.size(), 4u) << reply;
  EXPECT_EQ(words[1], "0") << "the child's exit status (\"timeout\": it hung): " << reply;
  EXPECT_EQ(words[2], "err") << reply;
  EXPECT_EQ(words[3], "-6") << reply;
  EXPECT_NE(reply.find("fork before attaching"), std::string::npos) << reply;
  EXPECT_NE(reply.find("exec"), std::string::npos) << reply;
  EXPECT_LT(std::stol(words.back()), kAttachTimeoutMs) << reply;
  ExpectParentAttached(d, *w);
  EXPECT_EQ(w->Ask("free" + held.substr(2)), "ok");
  EXPECT_EQ(w->Ask("detach"), "ok");
  EXPECT_TRUE(WaitForClients(d, "default", 0));
  EXPECT_EQ(StatsOf(d, "default").allocated_bytes(), 0u);
}

TEST(Fork, ChildRefusesTheParentsHandleAndLeavesItsSessionAlone) {
  TestDaemon d;
  d.Start();
  auto w = ForkingWorker(d);
  const std::string reply = w->Ask("forkuse");
  const std::vector<std::string> words = Words(reply);
  ASSERT_EQ(words.size(), 6u) << reply;
  EXPECT_EQ(words[1], "0") << "the child's exit status (\"timeout\": it hung): " << reply;
  EXPECT_EQ(words[2], "malloc=null") << reply;
  EXPECT_EQ(words[3], "purge=-6") << reply;
  EXPECT_LT(std::stol(words[4]), kAttachTimeoutMs) << reply;
  EXPECT_EQ(words[5], "detach=ok") << reply;
  ExpectParentAttached(d, *w);
  EXPECT_EQ(w->Ask("detach"), "ok");
  EXPECT_TRUE(WaitForClients(d, "default", 0));
}

}  // namespace
}  // namespace shmpool::testing
