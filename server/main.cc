// shmpoold: the shmpool daemon. See server/README.md.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/config.h"
#include "server/daemon.h"
#include "server/log.h"

ABSL_FLAG(std::string, config, "", "TOML configuration file (see server/README.md)");
ABSL_FLAG(std::vector<std::string>, listen, {},
          "endpoints to serve, comma-separated: unix:PATH or HOST:PORT (default: the "
          "config's, else /run/shmpool/shmpoold.sock or $XDG_RUNTIME_DIR/shmpool/shmpoold.sock)");
ABSL_FLAG(std::string, shm_dir, "", "directory of the segment files (default /dev/shm)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics endpoint HOST:PORT (not available in this version)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "shmpoold [--config FILE] [--listen unix:PATH|HOST:PORT] [--shm-dir DIR]\n"
      "Serves shared-memory arenas. With no arguments: one arena 'default' of 1 GiB in "
      "/dev/shm on the default socket.");
  // Accept --shm-dir and --metrics-listen (absl spells flags with '_').
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> fixed;
  for (std::string& a : args) {
    if (a.rfind("--shm-dir", 0) == 0) a.replace(0, 9, "--shm_dir");
    if (a.rfind("--metrics-listen", 0) == 0) a.replace(0, 16, "--metrics_listen");
    fixed.push_back(a.data());
  }
  absl::ParseCommandLine(static_cast<int>(fixed.size()), fixed.data());
  using shmpool::server::LogError;

  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    LogError("startup_failed")
        .Kv("error",
            "--metrics-listen is not available in this version of shmpoold "
            "(Prometheus /metrics comes with a later release); use StatsService");
    return 2;
  }
  shmpool::server::Config config = shmpool::server::DefaultConfig();
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<shmpool::server::Config> c = shmpool::server::LoadConfigFile(path);
    if (!c.ok()) {
      LogError("startup_failed").Kv("error", c.status().message());
      return 2;
    }
    config = *c;
  }
  if (const auto listen = absl::GetFlag(FLAGS_listen); !listen.empty()) config.listen = listen;
  if (const std::string dir = absl::GetFlag(FLAGS_shm_dir); !dir.empty()) config.shm_dir = dir;

  // Signals are taken by sigwait below: block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<shmpool::server::Daemon>> daemon =
      shmpool::server::Daemon::Start(config);
  if (!daemon.ok()) {
    LogError("startup_failed").Kv("error", daemon.status().message());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  shmpool::server::LogInfo("signal").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Shutdown();
  daemon->reset();
  return 0;
}
