#include "ctl/commands.h"

#include <grp.h>
#include <pwd.h>

#include <chrono>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ctl/doctor.h"
#include "ctl/json.h"
#include "ctl/map.h"
#include "ctl/pool_commands.h"
#include "ctl/printable.h"
#include "ctl/rpc_common.h"
#include "ctl/segments.h"
#include "ctl/stats_view.h"
#include "ctl/table.h"
#include "ctl/top.h"
#include "google/protobuf/util/time_util.h"
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

std::string IdOf(const std::string& name) {
  return name.rfind("arenas/", 0) == 0 ? name.substr(7) : name;
}

absl::StatusOr<uint32_t> UserId(const std::string& s, bool group) {
  uint32_t id = 0;
  if (absl::SimpleAtoi(s, &id)) return id;
  if (group) {
    if (struct group* g = getgrnam(s.c_str())) return g->gr_gid;
    return absl::InvalidArgumentError(absl::StrCat("no such group \"", s, "\""));
  }
  if (struct passwd* p = getpwnam(s.c_str())) return p->pw_uid;
  return absl::InvalidArgumentError(absl::StrCat("no such user \"", s, "\""));
}

// "ok", or "QUARANTINED(kind)".
std::string StateOf(const v1::Arena& a) {
  return a.has_quarantine() ? absl::StrCat("QUARANTINED(", a.quarantine().kind(), ")") : "ok";
}

void PrintArena(const v1::Arena& a) {
  Table t({"FIELD", "VALUE"}, false);
  t.Add({"name", IdOf(a.name())});
  t.Add({"state", a.has_quarantine() ? absl::StrCat(StateOf(a), ": ", a.quarantine().reason())
                                     : StateOf(a)});
  t.Add({"capacity", FormatSize(a.capacity_bytes())});
  t.Add({"quota", a.quota_bytes() ? FormatSize(a.quota_bytes()) : "none"});
  t.Add({"resident", FormatSize(a.resident_bytes())});
  t.Add({"attached clients", absl::StrCat(a.attached_clients())});
  t.Add({"owner uid/gid", absl::StrCat(a.owner_uid(), "/", a.group_gid())});
  t.Add({"max procs", absl::StrCat(a.max_procs())});
  t.Add({"max thread caches", absl::StrCat(a.max_thread_caches())});
  t.Add({"segment", a.segment_path()});
  t.Add({"segment size", FormatSize(a.segment_bytes())});
  t.Add({"created", google::protobuf::util::TimeUtil::ToString(a.create_time())});
  t.Add({"adopted", a.adopted() ? "yes" : "no"});
  t.Add({"generation", absl::StrCat(a.generation())});
  t.Add({"stale frees", absl::StrCat(a.stale_frees())});
  for (const v1::RetiredSegment& r : a.retired_segments())
    t.Add({absl::StrCat("retired generation ", r.generation()),
           absl::StrCat(r.path(), " (", r.attached_clients(), " client",
                        r.attached_clients() == 1 ? "" : "s", " still map it, ",
                        FormatSize(r.resident_bytes()), " resident)")});
  t.Print(std::cout);
}

int ArenaCreate(const Args& args, v1::ArenaService::Stub& stub) {
  if (args.words.size() != 3) return Usage("arena create NAME --capacity SIZE [--quota SIZE] ...");
  if (!args.Has("capacity")) return Usage("arena create needs --capacity SIZE");
  v1::CreateArenaRequest req;
  req.set_arena_id(args.words[2]);
  v1::Arena* a = req.mutable_arena();
  absl::StatusOr<uint64_t> cap = api::ParseSize(*args.Get("capacity"));
  if (!cap.ok()) return Usage(std::string(cap.status().message()));
  a->set_capacity_bytes(*cap);
  if (auto q = args.Get("quota")) {
    absl::StatusOr<uint64_t> quota = api::ParseSize(*q);
    if (!quota.ok()) return Usage(std::string(quota.status().message()));
    a->set_quota_bytes(*quota);
  }
  for (const char* opt : {"owner", "group"}) {
    auto v = args.Get(opt);
    if (!v) continue;
    absl::StatusOr<uint32_t> id = UserId(*v, opt[0] == 'g');
    if (!id.ok()) return Usage(std::string(id.status().message()));
    opt[0] == 'g' ? a->set_group_gid(*id) : a->set_owner_uid(*id);
  }
  for (const char* opt : {"max-procs", "max-thread-caches"}) {
    auto v = args.Get(opt);
    uint32_t n = 0;
    if (!v) continue;
    if (!absl::SimpleAtoi(*v, &n)) return Usage(absl::StrCat("--", opt, " needs a number"));
    opt[4] == 'p' ? a->set_max_procs(n) : a->set_max_thread_caches(n);
  }
  v1::Arena resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub.CreateArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << "created arena " << IdOf(resp.name()) << ": capacity "
              << FormatSize(resp.capacity_bytes()) << ", segment " << resp.segment_path() << "\n";
  }
  return kExitOk;
}

int ArenaList(const Args& args, v1::ArenaService::Stub& stub) {
  v1::ListArenasResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub.ListArenas(&ctx, {}, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  Table t({"NAME", "STATE", "CAPACITY", "QUOTA", "RESIDENT", "CLIENTS", "UID", "GID", "SEGMENT"});
  for (const v1::Arena& a : resp.arenas())
    t.Add({IdOf(a.name()), StateOf(a), FormatSize(a.capacity_bytes()),
           a.quota_bytes() ? FormatSize(a.quota_bytes()) : "-", FormatSize(a.resident_bytes()),
           absl::StrCat(a.attached_clients()), absl::StrCat(a.owner_uid()),
           absl::StrCat(a.group_gid()), a.segment_path()});
  t.Print(std::cout);
  return kExitOk;
}

int ArenaOne(const Args& args, v1::ArenaService::Stub& stub) {
  const std::string& verb = args.words[1];
  if (args.words.size() != 3) return Usage(absl::StrCat("arena ", verb, " NAME"));
  const std::string name = ArenaNameOf(args.words[2]);
  grpc::ClientContext ctx;
  Prepare(ctx);
  v1::Arena arena;
  grpc::Status st;
  if (verb == "get") {
    v1::GetArenaRequest req;
    req.set_name(name);
    st = stub.GetArena(&ctx, req, &arena);
  } else if (verb == "reset") {
    v1::ResetArenaRequest req;
    req.set_name(name);
    st = stub.ResetArena(&ctx, req, &arena);
  } else {
    v1::DeleteArenaRequest req;
    req.set_name(name);
    v1::DeleteArenaResponse resp;
    st = stub.DeleteArena(&ctx, req, &resp);
    if (st.ok()) {
      if (args.Has("json"))
        std::cout << "{\"name\":\"" << name << "\",\"deleted\":true}\n";
      else
        std::cout << "deleted arena " << IdOf(name) << "\n";
    }
    return st.ok() ? kExitOk : Failed(st);
  }
  if (!st.ok()) return Failed(st);
  if (args.Has("json"))
    std::cout << ToJson(arena) << "\n";
  else if (verb == "reset")
    std::cout << "reset arena " << IdOf(arena.name()) << " to generation " << arena.generation()
              << " (empty, " << FormatSize(arena.capacity_bytes()) << "; "
              << arena.retired_segments_size() << " retired generation"
              << (arena.retired_segments_size() == 1 ? "" : "s")
              << " kept while clients map them)\n";
  else
    PrintArena(arena);
  return kExitOk;
}

// The stats of the arena `args` names (its second word), or of every arena.
grpc::Status FetchStats(const Args& args, v1::StatsService::Stub& stub,
                        v1::GetStatsResponse* resp) {
  v1::GetStatsRequest req;
  req.set_name(args.words.size() == 2 ? ArenaNameOf(args.words[1]) : std::string(api::kAllArenas));
  grpc::ClientContext ctx;
  Prepare(ctx);
  return stub.GetStats(&ctx, req, resp);
}

int Stats(const Args& args, v1::StatsService::Stub& stub) {
  if (args.words.size() > 2) return Usage("stats [NAME] [--json]");
  v1::GetStatsResponse resp;
  if (grpc::Status st = FetchStats(args, stub, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  for (int i = 0; i < resp.arenas_size(); ++i) {
    if (i) std::cout << "\n";
    PrintStats(resp.arenas(i), std::cout);
  }
  return kExitOk;
}

int Purge(const Args& args, v1::ArenaService::Stub& stub) {
  const bool all = args.Has("all");
  if (args.words.size() > 2 || (all && args.words.size() == 2) || (!all && args.words.size() != 2))
    return Usage("purge NAME|--all [--json]");
  v1::PurgeArenaRequest req;
  req.set_name(all ? std::string(api::kAllArenas) : ArenaNameOf(args.words[1]));
  v1::PurgeArenaResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = stub.PurgeArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (args.Has("json")) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  Table t({"ARENA", "RELEASED", "TIME", "RESIDENT AFTER"});
  for (const v1::ArenaPurge& p : resp.arenas())
    t.Add({IdOf(p.name()), FormatSize(p.released_bytes()), Seconds(p.duration()),
           FormatSize(p.resident_bytes())});
  t.Print(std::cout);
  std::cout << "released " << FormatSize(resp.released_bytes()) << " in "
            << Seconds(resp.duration()) << "\n";
  return kExitOk;
}

// The doctor: the checks of ctl/doctor.h over one arena's stats and pools, or every
// arena's.
int Doctor(const Args& args, const std::shared_ptr<grpc::Channel>& channel) {
  if (args.words.size() > 2) return Usage("doctor [NAME] [--json]");
  auto stats = v1::StatsService::NewStub(channel);
  v1::GetStatsResponse resp;
  if (grpc::Status st = FetchStats(args, *stats, &resp); !st.ok()) return Failed(st);
  auto pool_stub = v1::PoolService::NewStub(channel);
  v1::ListPoolsRequest req;
  req.set_arena(args.words.size() == 2 ? ArenaNameOf(args.words[1]) : std::string(api::kAllArenas));
  v1::ListPoolsResponse pools;
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (grpc::Status st = pool_stub->ListPools(&ctx, req, &pools); !st.ok()) return Failed(st);
  if (args.Has("json"))
    std::cout << DoctorJson(resp, pools) << "\n";
  else
    std::cout << PrintableLines(DoctorReport(resp, pools));
  return kExitOk;
}

}  // namespace

int RunCommand(const Args& args, std::shared_ptr<grpc::Channel> channel) {
  if (args.words.empty()) return Usage("no command given");
  const std::string& cmd = args.words[0];
  auto arenas = v1::ArenaService::NewStub(channel);
  if (cmd == "arena") {
    if (args.words.size() < 2) return Usage("arena create|list|get|delete|reset");
    const std::string& verb = args.words[1];
    if (verb == "create") return ArenaCreate(args, *arenas);
    if (verb == "list") {
      if (args.words.size() != 2) return Usage("arena list takes no NAME");
      return ArenaList(args, *arenas);
    }
    if (verb == "get" || verb == "delete" || verb == "reset") return ArenaOne(args, *arenas);
    if (verb == "set-quota" || verb == "update") return ArenaUpdate(args, channel);
    return Usage(absl::StrCat("unknown command \"arena ", verb, "\""));
  }
  if (cmd == "stats") {
    auto stats = v1::StatsService::NewStub(channel);
    return Stats(args, *stats);
  }
  if (cmd == "purge") return Purge(args, *arenas);
  if (cmd == "pool") return PoolCommand(args, channel);
  if (cmd == "doctor") return Doctor(args, channel);
  if (cmd == "top") return RunTop(args, channel);
  if (cmd == "map") return RunMap(args, channel);
  if (cmd == "segments") return SegmentsCommand(args);  // no daemon needed
  return Usage(absl::StrCat("unknown command \"", cmd, "\""));
}

}  // namespace shmpool::ctl
