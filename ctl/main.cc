// shmpoolctl: the operator's command line for shmpoold. See --help.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <iostream>

#include "ctl/args.h"
#include "ctl/commands.h"
#include "proto/api/endpoint.h"

namespace {

constexpr const char* kHelp = R"(usage: shmpoolctl [--endpoint E] COMMAND [--json]

commands:
  arena create NAME --capacity SIZE [--quota SIZE] [--owner USER|UID] [--group GROUP|GID]
                    [--max-procs N] [--max-thread-caches N]
  arena list
  arena get NAME
  arena delete NAME
  arena reset NAME           free everything at once, clients attached: a new, empty
                             generation; clients switch to it (get shows the generation)
  arena set-quota NAME SIZE   (or: arena update NAME --quota SIZE) online; 0: no quota
  pool create ARENA NAME --object-size N --count N [--align N] [--headroom N]
                    [--cache-line-pad]
  pool list [ARENA]          pools: in use, free, lowest free, cache hit rate, holders
  pool delete ARENA NAME
  stats [NAME]              stats of one arena, or of all
  purge NAME|--all          return free memory of one arena, or of all, to the OS
  doctor [NAME]             what is wrong with memory use, and what to do, in sentences
  top [NAME] [--interval D] [--iterations N]   live stats, redrawn every interval
  map NAME [--cells N] [--output FILE.svg|.png]  heat map of the arena's pages
  segments list [--shm-dir DIR]   segment files (no daemon needed), retired generations
                                  of reset arenas included: arena, validity, generation,
                                  live and dead attached processes
  segments remove PATH [--force]  delete a segment whose daemon is gone for good; refused
                                  while processes are alive or a daemon serves the dir

  --endpoint E   unix:PATH or HOST:PORT (default: $SHMPOOL_ENDPOINT, else the default
                 socket: /run/shmpool/shmpoold.sock or $XDG_RUNTIME_DIR/shmpool/shmpoold.sock)
  --json         print one JSON document on stdout instead of tables
SIZE: bytes, or with a unit: 4096, 64MiB, 1GiB, 512K.
exit status: 0 success, 1 the daemon refused or failed (its message on stderr), 2 bad usage.
)";

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<shmpool::ctl::Args> args = shmpool::ctl::ParseArgs(argc, argv);
  if (!args.ok()) {
    std::cerr << "shmpoolctl: " << args.status().message() << "\n(see shmpoolctl --help)\n";
    return shmpool::ctl::kExitUsage;
  }
  if (args->Has("help") || (args->words.size() == 1 && args->words[0] == "help")) {
    std::cout << kHelp;
    return shmpool::ctl::kExitOk;
  }
  const absl::StatusOr<std::string> text =
      shmpool::api::ClientEndpoint(args->Get("endpoint").value_or(""));
  if (!text.ok()) {
    std::cerr << "shmpoolctl: " << text.status().message() << "\n";
    return shmpool::ctl::kExitFailed;
  }
  absl::StatusOr<shmpool::api::Endpoint> ep = shmpool::api::ParseEndpoint(*text);
  if (!ep.ok()) {
    std::cerr << "shmpoolctl: " << ep.status().message() << "\n";
    return shmpool::ctl::kExitUsage;
  }
  auto channel = grpc::CreateChannel(ep->Target(), grpc::InsecureChannelCredentials());
  return shmpool::ctl::RunCommand(*args, channel);
}
