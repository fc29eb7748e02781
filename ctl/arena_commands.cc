// shmpoolctl arena create|list|get|delete|reset|set-quota|update: the ArenaService's RPCs
// (CreateArena, ListArenas, GetArena, DeleteArena, ResetArena, UpdateArena).
#include <grp.h>
#include <pwd.h>

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/rpc_common.h"
#include "ctl/table.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "proto/api/size.h"
#include "shmpool/v1/arena.grpc.pb.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

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
  t.Add({"name", ArenaIdOf(a.name())});
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

int Create(const Invocation& in) {
  const Args& args = in.args;
  if (!args.Has("capacity")) return Usage("arena create needs --capacity SIZE");
  v1::CreateArenaRequest req;
  req.set_arena_id(args.words[0]);
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
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->CreateArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << "created arena " << ArenaIdOf(resp.name()) << ": capacity "
              << FormatSize(resp.capacity_bytes()) << ", segment " << resp.segment_path() << "\n";
  }
  return kExitOk;
}

int List(const Invocation& in) {
  v1::ListArenasResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->ListArenas(&ctx, {}, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
    return kExitOk;
  }
  Table t({"NAME", "STATE", "CAPACITY", "QUOTA", "RESIDENT", "CLIENTS", "UID", "GID", "SEGMENT"});
  for (const v1::Arena& a : resp.arenas())
    t.Add({ArenaIdOf(a.name()), StateOf(a), FormatSize(a.capacity_bytes()),
           a.quota_bytes() ? FormatSize(a.quota_bytes()) : "-", FormatSize(a.resident_bytes()),
           absl::StrCat(a.attached_clients()), absl::StrCat(a.owner_uid()),
           absl::StrCat(a.group_gid()), a.segment_path()});
  t.Print(std::cout);
  return kExitOk;
}

int Get(const Invocation& in) {
  v1::GetArenaRequest req;
  req.set_name(ArenaNameOf(in.args.words[0]));
  v1::Arena arena;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->GetArena(&ctx, req, &arena); !st.ok()) return Failed(st);
  if (in.json)
    std::cout << ToJson(arena) << "\n";
  else
    PrintArena(arena);
  return kExitOk;
}

int Delete(const Invocation& in) {
  v1::DeleteArenaRequest req;
  req.set_name(ArenaNameOf(in.args.words[0]));
  v1::DeleteArenaResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->DeleteArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json)
    std::cout << "{\"name\":" << JsonString(req.name()) << ",\"deleted\":true}\n";
  else
    std::cout << "deleted arena " << ArenaIdOf(req.name()) << "\n";
  return kExitOk;
}

int Reset(const Invocation& in) {
  v1::ResetArenaRequest req;
  req.set_name(ArenaNameOf(in.args.words[0]));
  v1::Arena arena;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->ResetArena(&ctx, req, &arena); !st.ok()) return Failed(st);
  if (in.json)
    std::cout << ToJson(arena) << "\n";
  else
    std::cout << "reset arena " << ArenaIdOf(arena.name()) << " to generation "
              << arena.generation() << " (empty, " << FormatSize(arena.capacity_bytes()) << "; "
              << arena.retired_segments_size() << " retired generation"
              << (arena.retired_segments_size() == 1 ? "" : "s")
              << " kept while clients map them)\n";
  return kExitOk;
}

// UpdateArena with the quota `text` (a SIZE; 0: no quota) of the arena `word` names.
int UpdateQuota(const Invocation& in, const std::string& word, const std::string& text) {
  v1::UpdateArenaRequest req;
  req.set_name(ArenaNameOf(word));
  absl::StatusOr<uint64_t> q = api::ParseSize(text);
  if (!q.ok()) return Usage(std::string(q.status().message()));
  req.set_quota_bytes(*q);
  v1::Arena resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto stub = v1::ArenaService::NewStub(in.channel);
  if (grpc::Status st = stub->UpdateArena(&ctx, req, &resp); !st.ok()) return Failed(st);
  if (in.json) {
    std::cout << ToJson(resp) << "\n";
  } else {
    std::cout << "arena " << resp.name() << ": quota "
              << (resp.quota_bytes() ? FormatSize(resp.quota_bytes()) : "none") << "\n";
  }
  return kExitOk;
}

int SetQuota(const Invocation& in) { return UpdateQuota(in, in.args.words[0], in.args.words[1]); }

int Update(const Invocation& in) {
  const std::optional<std::string> quota = in.args.Get("quota");
  if (!quota) return Usage("arena update needs --quota SIZE (0: no quota)");
  return UpdateQuota(in, in.args.words[0], *quota);
}

}  // namespace

std::vector<Command> ArenaCommands() {
  return {
      {.path = "arena create",
       .operands = "NAME",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "create an arena: a shared-memory segment of --capacity bytes",
       .options = {{"capacity", "SIZE", "the arena's size (required)"},
                   {"quota", "SIZE", "the most its clients may allocate (default: none)"},
                   {"owner", "USER|UID", "the user who may attach (default: the daemon's)"},
                   {"group", "GROUP|GID", "the group that may attach (default: the daemon's)"},
                   {"max-procs", "N", "processes attached at once"},
                   {"max-thread-caches", "N", "thread caches at once"}},
       .run = Create},
      {.path = "arena list",
       .summary = "every arena: state, capacity, quota, resident, clients, owner",
       .run = List},
      {.path = "arena get",
       .operands = "NAME",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "one arena in full, its retired generations included",
       .run = Get},
      {.path = "arena delete",
       .operands = "NAME",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "delete an arena (refused while clients are attached)",
       .run = Delete},
      {.path = "arena reset",
       .operands = "NAME",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "free everything at once, clients attached: a new, empty generation",
       .details = "Clients switch to the new generation; `arena get` shows it and the retired\n"
                  "generations clients still map.",
       .run = Reset},
      {.path = "arena set-quota",
       .operands = "NAME SIZE",
       .min_operands = 2,
       .max_operands = 2,
       .summary = "set the arena's quota online; 0: no quota",
       .run = SetQuota},
      {.path = "arena update",
       .operands = "NAME",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "change an arena online (today: its quota)",
       .options = {{"quota", "SIZE", "the new quota (required; 0: no quota)"}},
       .run = Update},
  };
}

}  // namespace shmpool::ctl
