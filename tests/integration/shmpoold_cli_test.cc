// shmpoold's command line and signals: -h and --help print the usage with every flag the
// daemon defines, --version prints the project version, and SIGHUP is logged and ignored
// (the daemon keeps serving, its socket stays).
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "harness.h"

namespace shmpool::testing {
namespace {

// What shmpoold printed on stdout with one argument, and its exit status.
struct DaemonRun {
  int rc;
  std::string out;
};

DaemonRun RunDaemon(const std::string& arg) {
  Child c({SHMPOOLD_PATH, arg});
  c.CloseInput();
  std::string out = c.ReadAll();
  return {c.Wait(), out};
}

TEST(ShmpooldCli, HelpListsEveryFlag) {
  for (const char* flag : {"-h", "--help", "-help"}) {
    const DaemonRun r = RunDaemon(flag);
    EXPECT_EQ(r.rc, 0) << flag << ":\n" << r.out;
    EXPECT_NE(r.out.find("Serves shared-memory arenas"), std::string::npos) << flag << r.out;
    for (const char* name : {"--config", "--listen", "--shm-dir", "--metrics-listen",
                             "--metrics-per-client", "--decay-ms", "--memory-limit"})
      EXPECT_NE(r.out.find(std::string("  ") + name + "  "), std::string::npos)
          << flag << " lacks " << name << ":\n"
          << r.out;
  }
}

TEST(ShmpooldCli, VersionPrintsTheProjectVersion) {
  const DaemonRun r = RunDaemon("--version");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, "shmpoold " SHMPOOL_VERSION "\n");
}

TEST(ShmpooldCli, SighupIsLoggedAndIgnored) {
  TestDaemon d;
  d.Start();
  d.Signal(SIGHUP);
  // The daemon logs the signal once it took it: wait for the line (bounded).
  bool logged = false;
  for (int i = 0; i < 500 && !logged; ++i) {
    logged = d.Log().find("event=sighup") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(logged) << d.Log();
  EXPECT_NE(d.Log().find("note=\"configuration reload is not supported; restart to apply "
                         "changes\""),
            std::string::npos)
      << d.Log();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListArenasResponse resp;
  EXPECT_TRUE(d.arenas().ListArenas(&ctx, {}, &resp).ok());
  struct stat st {};
  EXPECT_EQ(stat(d.socket_path().c_str(), &st), 0);
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

}  // namespace
}  // namespace shmpool::testing
