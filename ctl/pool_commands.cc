// shmpoolctl pool create|list|delete: the PoolService's RPCs (CreatePool, ListPools,
// DeletePool).
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/rpc_common.h"
#include "ctl/table.h"
#include "grpcpp/client_context.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shmpool/v1/pool.grpc.pb.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

// A size ("64MiB") or plain number option; nullopt when absent, error when malformed.
absl::StatusOr<std::optional<uint64_t>> SizeOption(const Args& args, const char* name) {
  auto v = args.Get(name);
  if (!v) return std::optional<uint64_t>();
  absl::StatusOr<uint64_t> n = api::ParseSize(*v);
  if (!n.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", n.status().message()));
  return std::optional<uint64_t>(*n);
}

int Create(const Invocation& in) {
  const Args& args = in.args;
  if (!args.Has("object-size") || !args.Has("count"))
    return Usage("pool create needs --object-size N and --count N");
  v1::CreatePoolRequest req;
  req.set_arena(ArenaNameOf(args.words[0]));
  req.set_pool_id(args.words[1]);
  v1::Pool* p = req.mutable_pool();
  for (const char* opt : {"object-size", "count", "align", "headroom"}) {
    absl::StatusOr<std::optional<uint64_t>> v = SizeOption(args, opt);
    if (!v.ok()) return Usage(std::string(v.status().message()));
    if (!v->has_value()) continue;
    const uint64_t n = **v;
    if (opt[0] == 'o') p->set_object_size(n);
    if (opt[0] == 'c') p->set_count(static_cast<uint32_t>(n));
    if (opt[0] == 'a') p->set_align(static_cast<uint32_t>(n));
    if (opt[0] == 'h') p->set_headroom(static_cast<uint32_t>(n));
  }
  p->set_cache_line_pad(args.Has("cache-line-pad"));
  v1::Pool resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::PoolService::NewStub(in.channel);
  if (grpc::Status st = stub->CreatePool(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << "created pool " << resp.name() << ": " << resp.count() << " objects of "
              << resp.object_size() << " B (stride " << resp.stride() << " B), "
              << FormatSize(resp.bytes()) << "\n";
  }
  return kExitOk;
}

int List(const Invocation& in) {
  v1::ListPoolsRequest req;
  req.set_arena(in.args.words.size() == 1 ? ArenaNameOf(in.args.words[0])
                                          : std::string(api::kAllArenas));
  v1::ListPoolsResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::PoolService::NewStub(in.channel);
  if (grpc::Status st = stub->ListPools(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  Table t({"POOL", "OBJECT", "STRIDE", "COUNT", "IN_USE", "FREE", "CACHED", "LOWEST_FREE",
           "HIT_RATE", "BAD_PUTS", "HOLDERS"});
  for (const v1::Pool& p : resp.pools()) {
    std::string holders;
    for (const v1::PoolHolder& h : p.holders())
      absl::StrAppend(&holders, holders.empty() ? "" : ",", h.pid(), "(", h.client_name(),
                      ")=", h.held());
    t.Add({p.name(), absl::StrCat(p.object_size()), absl::StrCat(p.stride()),
           absl::StrCat(p.count()), absl::StrCat(p.in_use()), absl::StrCat(p.free()),
           absl::StrCat(p.cached()), absl::StrCat(p.lowest_free()),
           absl::StrFormat("%.3f", p.cache_hit_rate()), absl::StrCat(p.bad_puts()),
           holders.empty() ? "-" : holders});
  }
  t.Print(std::cout);
  return kExitOk;
}

int Delete(const Invocation& in) {
  v1::DeletePoolRequest req;
  req.set_name(absl::StrCat(ArenaNameOf(in.args.words[0]), "/pools/", in.args.words[1]));
  v1::DeletePoolResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::PoolService::NewStub(in.channel);
  if (grpc::Status st = stub->DeletePool(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json)
    std::cout << "{\"name\":" << JsonString(req.name()) << ",\"deleted\":true}\n";
  else
    std::cout << "deleted pool " << req.name() << "\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> PoolCommands() {
  return {
      {.path = "pool create",
       .operands = "ARENA NAME",
       .min_operands = 2,
       .max_operands = 2,
       .summary = "create a pool of fixed-size objects in an arena",
       .options = {{"object-size", "N", "bytes of each object (required)"},
                   {"count", "N", "objects in the pool (required)"},
                   {"align", "N", "alignment of each object"},
                   {"headroom", "N", "bytes before each object"},
                   {"cache-line-pad", "", "pad each object to a whole cache line"}},
       .run = Create},
      {.path = "pool list",
       .operands = "[ARENA]",
       .max_operands = 1,
       .summary = "pools: in use, free, lowest free, cache hit rate, holders",
       .run = List},
      {.path = "pool delete",
       .operands = "ARENA NAME",
       .min_operands = 2,
       .max_operands = 2,
       .summary = "delete a pool",
       .run = Delete},
  };
}

}  // namespace shmpool::ctl
