// shmpoold: the shmpool daemon. See server/README.md.
#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "proto/api/size.h"
#include "server/core/config.h"
#include "server/core/log.h"
#include "server/daemon.h"

ABSL_FLAG(std::string, config, "", "TOML configuration file (see server/README.md)");
ABSL_FLAG(std::vector<std::string>, listen, {},
          "endpoints to serve, comma-separated: unix:PATH or HOST:PORT (default: the "
          "config's, else /run/shmpool/shmpoold.sock or $XDG_RUNTIME_DIR/shmpool/shmpoold.sock)");
ABSL_FLAG(std::string, shm_dir, "",
          "directory of the segment files, the daemon's own, not writable by group or others "
          "(default /dev/shm/shmpool, created when missing)");
ABSL_FLAG(std::string, metrics_listen, "",
          "serve Prometheus /metrics over HTTP on HOST:PORT (e.g. 127.0.0.1:9464)");
ABSL_FLAG(std::optional<bool>, metrics_per_client, std::nullopt,
          "--metrics-per-client=false leaves out of /metrics every series of a client session "
          "(their pids, uids and client names); default: the config's [metrics] per_client, "
          "else true");
ABSL_FLAG(int64_t, decay_ms, -2,
          "purge free pages idle this many ms in the background, in every arena without its "
          "own decay_ms (-1 never; default: the config's [purge] decay_ms, else never)");
ABSL_FLAG(std::string, memory_limit, "",
          "purge in the background when the arenas' resident bytes exceed SIZE (e.g. 8GiB)");

namespace {

constexpr const char* kUsage =
    "usage: shmpoold [--config FILE] [--listen unix:PATH|HOST:PORT] [--shm-dir DIR] ...\n"
    "       shmpoold -h|--help|--version\n"
    "Serves shared-memory arenas. With no arguments: one arena 'default' of 1 GiB in "
    "/dev/shm/shmpool on the default socket. SIGTERM or SIGINT stops it; SIGHUP is logged and "
    "ignored (no reload: restart to apply configuration changes).";

// The usage and every flag defined in this file (the daemon's own, not the libraries'),
// spelled with '-' as operators type them, with its help (which names its default).
void PrintHelp() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags())
    if (absl::EndsWith(flag->Filename(), "server/main.cc")) flags.push_back(flag);
  std::sort(flags.begin(), flags.end(),
            [](const absl::CommandLineFlag* a, const absl::CommandLineFlag* b) {
              return a->Name() < b->Name();
            });
  std::cout << kUsage << "\n\nflags:\n";
  for (const absl::CommandLineFlag* f : flags)
    std::cout << "  --" << absl::StrReplaceAll(f->Name(), {{"_", "-"}}) << "  " << f->Help()
              << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      PrintHelp();
      return 0;
    }
    if (arg == "--version" || arg == "-version") {
      std::cout << "shmpoold " SHMPOOL_VERSION "\n";
      return 0;
    }
  }
  // Accept --shm-dir and --metrics-listen (absl spells flags with '_').
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> fixed;
  for (std::string& a : args) {
    if (a.rfind("--shm-dir", 0) == 0) a.replace(0, 9, "--shm_dir");
    if (a.rfind("--metrics-listen", 0) == 0) a.replace(0, 16, "--metrics_listen");
    if (a.rfind("--metrics-per-client", 0) == 0) a.replace(0, 20, "--metrics_per_client");
    if (a.rfind("--decay-ms", 0) == 0) a.replace(0, 10, "--decay_ms");
    if (a.rfind("--memory-limit", 0) == 0) a.replace(0, 14, "--memory_limit");
    fixed.push_back(a.data());
  }
  absl::ParseCommandLine(static_cast<int>(fixed.size()), fixed.data());
  using shmpool::server::LogError;

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
  if (const std::string m = absl::GetFlag(FLAGS_metrics_listen); !m.empty())
    config.metrics_listen = m;
  if (const std::optional<bool> p = absl::GetFlag(FLAGS_metrics_per_client))
    config.metrics.per_client = *p;
  if (const int64_t ms = absl::GetFlag(FLAGS_decay_ms); ms != -2) {
    if (ms < -1) {
      LogError("startup_failed").Kv("error", "--decay-ms must be -1 (never) or >= 0");
      return 2;
    }
    config.purge.decay_ms = ms;
  }
  if (const std::string m = absl::GetFlag(FLAGS_memory_limit); !m.empty()) {
    absl::StatusOr<uint64_t> limit = shmpool::api::ParseSize(m);
    if (!limit.ok()) {
      LogError("startup_failed")
          .Kv("error", absl::StrCat("--memory-limit: ", limit.status().message()));
      return 2;
    }
    config.purge.memory_limit = *limit;
  }

  // Signals are taken by sigwait below: block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<shmpool::server::Daemon>> daemon =
      shmpool::server::Daemon::Start(config);
  if (!daemon.ok()) {
    LogError("startup_failed").Kv("error", daemon.status().message());
    return 1;
  }
  // Every socket is listening and every arena exists: tell systemd (Type=notify). A no-op
  // when not started by systemd ($NOTIFY_SOCKET unset).
  sd_notify(0, "READY=1");
  // SIGHUP (a closed terminal, or an operator expecting a reload) does not stop the daemon:
  // it rereads nothing, so it says so.
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
    shmpool::server::LogInfo("sighup").Kv(
        "note", "configuration reload is not supported; restart to apply changes");
  sd_notify(0, "STOPPING=1");
  shmpool::server::LogInfo("signal").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Shutdown();
  daemon->reset();
  return 0;
}
