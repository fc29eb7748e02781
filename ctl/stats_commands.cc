// shmpoolctl stats, purge and doctor: what an arena's memory is used for (GetStats), giving
// free memory back to the OS (PurgeArena), and the doctor's reading of both (ctl/doctor.h).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ctl/command.h"
#include "ctl/doctor.h"
#include "ctl/json.h"
#include "ctl/printable.h"
#include "ctl/rpc_common.h"
#include "ctl/stats_view.h"
#include "ctl/table.h"
#include "grpcpp/client_context.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shmpool/v1/arena.grpc.pb.h"
#include "shmpool/v1/pool.grpc.pb.h"
#include "shmpool/v1/stats.grpc.pb.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

std::string Seconds(const google::protobuf::Duration& d) {
  return FormatStat(static_cast<double>(d.seconds()) + d.nanos() / 1e9, v1::Stat::SECONDS);
}

// The stats of the arena `args` names (its operand), or of every arena.
grpc::Status FetchStats(const Args& args, v1::StatsService::Stub& stub,
                        v1::GetStatsResponse* resp) {
  v1::GetStatsRequest req;
  req.set_name(args.words.size() == 1 ? ArenaNameOf(args.words[0]) : std::string(api::kAllArenas));
  grpc::ClientContext ctx;
  Prepare(ctx);
  return stub.GetStats(&ctx, req, resp);
}

int Stats(const Invocation& in) {
  auto stub = v1::StatsService::NewStub(in.channel);
  v1::GetStatsResponse resp;
  if (grpc::Status st = FetchStats(in.args, *stub, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  for (int i = 0; i < resp.arenas_size(); ++i) {
    if (i) std::cout << "\n";
    PrintStats(resp.arenas(i), std::cout);
  }
  return kExitOk;
}

int Purge(const Invocation& in) {
  const bool all = in.args.Has("all");
  if (all == (in.args.words.size() == 1)) return Usage("purge NAME|--all (one of them)");
  v1::PurgeArenaRequest req;
  req.set_name(all ? std::string(api::kAllArenas) : ArenaNameOf(in.args.words[0]));
  v1::PurgeArenaResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->PurgeArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  Table t({"ARENA", "RELEASED", "TIME", "RESIDENT AFTER"});
  for (const v1::ArenaPurge& p : resp.arenas())
    t.Add({ArenaIdOf(p.name()), FormatSize(p.released_bytes()), Seconds(p.duration()),
           FormatSize(p.resident_bytes())});
  t.Print(std::cout);
  std::cout << "released " << FormatSize(resp.released_bytes()) << " in "
            << Seconds(resp.duration()) << "\n";
  return kExitOk;
}

// The doctor: the checks of ctl/doctor.h over one arena's stats and pools, or every
// arena's.
int Doctor(const Invocation& in) {
  auto stats = v1::StatsService::NewStub(in.channel);
  v1::GetStatsResponse resp;
  if (grpc::Status st = FetchStats(in.args, *stats, &resp); !st.ok()) return Failed(st);
  auto pool_stub = v1::PoolService::NewStub(in.channel);
  v1::ListPoolsRequest req;
  req.set_arena(in.args.words.size() == 1 ? ArenaNameOf(in.args.words[0])
                                          : std::string(api::kAllArenas));
  v1::ListPoolsResponse pools;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = pool_stub->ListPools(&ctx, req, &pools); !st.ok()) return Failed(st);
  if (in.json)
    std::cout << DoctorJson(resp, pools) << "\n";
  else
    std::cout << PrintableLines(DoctorReport(resp, pools));
  return kExitOk;
}

}  // namespace

std::vector<Command> StatsCommands() {
  return {
      {.path = "stats",
       .operands = "[NAME]",
       .max_operands = 1,
       .summary = "stats of one arena, or of all: totals, size classes, clients",
       .run = Stats},
      {.path = "purge",
       .operands = "NAME|--all",
       .max_operands = 1,
       .summary = "return free memory of one arena, or of all, to the OS",
       .options = {{"all", "", "every arena"}},
       .run = Purge},
      {.path = "doctor",
       .operands = "[NAME]",
       .max_operands = 1,
       .summary = "what is wrong with memory use, and what to do, in sentences",
       .run = Doctor},
  };
}

}  // namespace shmpool::ctl
