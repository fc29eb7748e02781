// `shmpoolctl top [NAME] [--interval DURATION] [--iterations N]`: stats of every arena (or
// one) live from the WatchStats stream, as a plain table redrawn at each update, with the
// malloc and free rates since the previous update. --iterations N stops after N updates
// (for scripts and tests); otherwise it runs until interrupted. With --json: each update as
// one JSON object (the stats message) on a line of its own, no rates, no redrawing.
#pragma once

#include <memory>

#include "ctl/args.h"
#include "grpcpp/channel.h"

namespace shmpool::ctl {

int RunTop(const Args& args, std::shared_ptr<grpc::Channel> channel);

}  // namespace shmpool::ctl
