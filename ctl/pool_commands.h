// shmpoolctl's tenant and pool commands (issue 5), kept apart from commands.cc:
//   arena set-quota NAME SIZE | arena update NAME --quota SIZE     (UpdateArena)
//   pool create ARENA NAME --object-size N --count N [--align N] [--headroom N]
//        [--cache-line-pad]                                         (CreatePool)
//   pool list [ARENA] [--json], pool delete ARENA NAME               (ListPools, DeletePool)
// Exit codes as in commands.h.
#pragma once

#include <memory>

#include "ctl/args.h"
#include "grpcpp/channel.h"

namespace shmpool::ctl {

int ArenaUpdate(const Args& args, std::shared_ptr<grpc::Channel> channel);
int PoolCommand(const Args& args, std::shared_ptr<grpc::Channel> channel);

}  // namespace shmpool::ctl
