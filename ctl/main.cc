// shmpoolctl: the operator's command line for shmpoold. See --help.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "ctl/args.h"
#include "ctl/commands.h"
#include "ctl/rpc_common.h"
#include "proto/api/endpoint.h"

namespace {

constexpr const char* kHelp =
    R"(usage: shmpoolctl [--endpoint E] [--timeout D] [--tls-ca F ...] COMMAND [--json]
       shmpoolctl -h|--help|--version

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
  --timeout D    deadline of each RPC (10s, 500ms, or seconds; default 10s; 0: none);
                 top: of each frame after its --interval. Past it: DEADLINE_EXCEEDED, exit 1
  --tls-ca F     TCP endpoints with TLS: the CA (PEM) that signed the daemon's certificate;
  --tls-cert F   with the client certificate (PEM) and its key that the daemon requires
  --tls-key F    (its [tls] ca_file must have signed them). Unix sockets need none of this
  --json         print one JSON document on stdout instead of tables (top: one per update,
                 a line each; map: not with --output)
SIZE: bytes, or with a unit: 4096, 64MiB, 1GiB, 512K.
Strings that clients set (client names, pool holders) are printed with control characters
and other unprintable bytes as \xNN (a backslash as \\); --json escapes them the JSON way.
exit status: 0 success, 1 the daemon refused, failed or did not answer in time (its message,
or DEADLINE_EXCEEDED, on stderr), 2 bad usage.
)";

// The PEM file `path` names, or an error naming the option.
absl::StatusOr<std::string> ReadPem(const std::string& option, const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty())
    return absl::InvalidArgumentError(absl::StrCat("--", option, ": cannot read ", path));
  return text.str();
}

// The channel's credentials: TLS when any --tls-* option is given, else none (Unix sockets,
// and TCP listeners without [tls]).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const shmpool::ctl::Args& args) {
  if (!args.Has("tls-ca") && !args.Has("tls-cert") && !args.Has("tls-key"))
    return grpc::InsecureChannelCredentials();
  if (args.Has("tls-cert") != args.Has("tls-key"))
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  grpc::SslCredentialsOptions tls;
  const std::pair<const char*, std::string*> files[] = {{"tls-ca", &tls.pem_root_certs},
                                                        {"tls-cert", &tls.pem_cert_chain},
                                                        {"tls-key", &tls.pem_private_key}};
  for (const auto& [option, field] : files) {
    if (!args.Has(option)) continue;
    absl::StatusOr<std::string> pem = ReadPem(option, *args.Get(option));
    if (!pem.ok()) return pem.status();
    *field = *pem;
  }
  return grpc::SslCredentials(tls);
}

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
  if (args->Has("version")) {
    std::cout << "shmpoolctl " SHMPOOL_VERSION "\n";
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
  if (auto t = args->Get("timeout")) {
    absl::StatusOr<absl::Duration> timeout = shmpool::ctl::ParseTimeout(*t);
    if (!timeout.ok()) return shmpool::ctl::Usage(std::string(timeout.status().message()));
    shmpool::ctl::SetTimeout(*timeout);
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(*args);
  if (!credentials.ok()) return shmpool::ctl::Usage(std::string(credentials.status().message()));
  auto channel = grpc::CreateChannel(ep->Target(), *credentials);
  return shmpool::ctl::RunCommand(*args, channel);
}
