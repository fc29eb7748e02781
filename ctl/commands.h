// shmpoolctl's commands. Each runs one or a few RPCs against the daemon and prints either a
// readable table or, with --json, one JSON document on stdout. Exit codes: 0 success,
// 1 the daemon refused or failed (its message on stderr), 2 bad usage.
#pragma once

#include <memory>
#include <string>

#include "ctl/args.h"
#include "grpcpp/channel.h"

namespace shmpool::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

int RunCommand(const Args& args, std::shared_ptr<grpc::Channel> channel);

}  // namespace shmpool::ctl
