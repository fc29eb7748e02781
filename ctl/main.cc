// shmpoolctl: the operator's command line for shmpoold. See --help. Resolves the command line
// against the table of commands (cli.h), prints the help asked for, applies the global
// options once (--timeout; the channel from --endpoint and --tls-*), then runs the command.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "ctl/cli.h"
#include "ctl/command.h"
#include "ctl/rpc_common.h"
#include "proto/api/endpoint.h"

namespace {

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
  namespace ctl = shmpool::ctl;
  const std::vector<ctl::Command> table = ctl::AllCommands();
  absl::StatusOr<ctl::CommandLine> line =
      ctl::Resolve(table, std::vector<std::string>(argv, argv + argc));
  if (!line.ok()) {
    std::cerr << "shmpoolctl: " << line.status().message() << "\n";
    return ctl::kExitUsage;
  }
  const ctl::Args& args = line->args;
  switch (line->action) {
    case ctl::CommandLine::Action::kVersion:
      std::cout << "shmpoolctl " SHMPOOL_VERSION "\n";
      return ctl::kExitOk;
    case ctl::CommandLine::Action::kHelp:
      std::cout << (line->command         ? ctl::CommandHelp(*line->command)
                    : line->group.empty() ? ctl::GlobalHelp(table)
                                          : ctl::GroupHelp(table, line->group));
      return ctl::kExitOk;
    case ctl::CommandLine::Action::kRun:
      break;
  }
  if (auto t = args.Get("timeout")) {
    absl::StatusOr<absl::Duration> timeout = ctl::ParseTimeout(*t);
    if (!timeout.ok()) return ctl::Usage(std::string(timeout.status().message()));
    ctl::SetTimeout(*timeout);
  }
  const ctl::Invocation run{args, args.Has("json"), nullptr};
  if (!line->command->daemon) return line->command->run(run);
  const absl::StatusOr<std::string> text =
      shmpool::api::ClientEndpoint(args.Get("endpoint").value_or(""));
  if (!text.ok()) {
    std::cerr << "shmpoolctl: " << text.status().message() << "\n";
    return ctl::kExitFailed;
  }
  absl::StatusOr<shmpool::api::Endpoint> ep = shmpool::api::ParseEndpoint(*text);
  if (!ep.ok()) {
    std::cerr << "shmpoolctl: " << ep.status().message() << "\n";
    return ctl::kExitUsage;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(args);
  if (!credentials.ok()) return ctl::Usage(std::string(credentials.status().message()));
  return line->command->run({args, run.json, grpc::CreateChannel(ep->Target(), *credentials)});
}
