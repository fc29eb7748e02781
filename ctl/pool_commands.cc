#include "ctl/pool_commands.h"

#include <chrono>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ctl/commands.h"
#include "ctl/json.h"
#include "ctl/rpc_common.h"
#include "ctl/table.h"
#include "grpcpp/client_context.h"
#include "proto/api/names.h"
#include "proto/api/size.h"
#include "shmpool/v1/arena.grpc.pb.h"
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

int PoolCreate(const Args& args, v1::PoolService::Stub& stub) {
  if (args.words.size() != 4 || !args.Has("object-size") || !args.Has("count"))
    return Usage("pool create ARENA NAME --object-size N --count N [--align N] [--headroom N]");
  v1::CreatePoolRequest req;
  req.set_arena(ArenaNameOf(args.words[2]));
  req.set_pool_id(args.words[3]);
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
  if (grpc::Status st = stub.CreatePool(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << "created pool " << resp.name() << ": " << resp.count() << " objects of "
              << resp.object_size() << " B (stride " << resp.stride() << " B), "
              << FormatSize(resp.bytes()) << "\n";
  }
  return kExitOk;
}

int PoolList(const Args& args, v1::PoolService::Stub& stub) {
  v1::ListPoolsRequest req;
  req.set_arena(args.words.size() == 3 ? ArenaNameOf(args.words[2]) : std::string(api::kAllArenas));
  v1::ListPoolsResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub.ListPools(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
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

int PoolDelete(const Args& args, v1::PoolService::Stub& stub) {
  if (args.words.size() != 4) return Usage("pool delete ARENA NAME");
  v1::DeletePoolRequest req;
  req.set_name(absl::StrCat(ArenaNameOf(args.words[2]), "/pools/", args.words[3]));
  v1::DeletePoolResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub.DeletePool(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (args.Has("json"))
    std::cout << "{\"name\":" << JsonString(req.name()) << ",\"deleted\":true}\n";
  else
    std::cout << "deleted pool " << req.name() << "\n";
  return kExitOk;
}

}  // namespace

int ArenaUpdate(const Args& args, std::shared_ptr<grpc::Channel> channel) {
  v1::UpdateArenaRequest req;
  std::optional<std::string> quota;
  if (args.words[1] == "set-quota") {
    if (args.words.size() != 4) return Usage("arena set-quota NAME SIZE");
    quota = args.words[3];
  } else {
    if (args.words.size() != 3) return Usage("arena update NAME --quota SIZE");
    quota = args.Get("quota");
    if (!quota) return Usage("arena update needs --quota SIZE (0: no quota)");
  }
  req.set_name(ArenaNameOf(args.words[2]));
  absl::StatusOr<uint64_t> q = api::ParseSize(*quota);
  if (!q.ok()) return Usage(std::string(q.status().message()));
  req.set_quota_bytes(*q);
  auto stub = v1::ArenaService::NewStub(channel);
  v1::Arena resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub->UpdateArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << "arena " << resp.name() << ": quota "
              << (resp.quota_bytes() ? FormatSize(resp.quota_bytes()) : "none") << "\n";
  }
  return kExitOk;
}

int PoolCommand(const Args& args, std::shared_ptr<grpc::Channel> channel) {
  if (args.words.size() < 2) return Usage("pool create|list|delete");
  auto stub = v1::PoolService::NewStub(channel);
  const std::string& verb = args.words[1];
  if (verb == "create") return PoolCreate(args, *stub);
  if (verb == "list") {
    if (args.words.size() > 3) return Usage("pool list [ARENA]");
    return PoolList(args, *stub);
  }
  if (verb == "delete") return PoolDelete(args, *stub);
  return Usage(absl::StrCat("unknown command \"pool ", verb, "\""));
}

}  // namespace shmpool::ctl
