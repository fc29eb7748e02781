// What every shmpoolctl command shares: how a usage error and a daemon's refusal are
// reported (exit codes of commands.h), the deadline of each RPC, and how an arena is named.
#pragma once

#include <string>

#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace shmpool::ctl {

// A usage error: the message on stderr, exit 2.
int Usage(const std::string& message);
// The daemon's refusal: its code name and message on stderr, exit 1.
int Failed(const grpc::Status& st);
// Gives an RPC its deadline.
void Prepare(grpc::ClientContext& ctx);
// NAME as typed (an arena id, or "arenas/ID") to a resource name.
std::string ArenaNameOf(const std::string& word);

}  // namespace shmpool::ctl
