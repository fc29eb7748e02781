// libFuzzer target: the gRPC request handling of shmpoold, in-process. The first input byte
// picks a method; the rest is parsed as that method's serialized request proto (inputs
// that do not parse are skipped, as gRPC would refuse them) and handed to the service
// implementation, over a real ArenaRegistry with two arenas in a private shm directory.
// Any crash, sanitizer report or hang is a bug; an error status is a fine answer.
#include <grpcpp/server_context.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/notification.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/peer_table.h"
#include "server/core/session_registry.h"
#include "server/rpc/arena_service.h"
#include "server/rpc/session_service.h"
#include "server/rpc/stats_service.h"

namespace shmpool::server {
namespace {

struct World {
  World()
      : dir("/dev/shm/shmpool-reqfuzz-" + std::to_string(getpid())),
        sessions(64),
        arenas(dir, Limits{.max_arena_capacity = 4 << 20, .max_arenas = 8, .max_sessions = 64},
               &sessions),
        authz(geteuid(), std::nullopt, /*remote_authenticated=*/false),
        arena_service(&arenas, &peers, &authz),
        session_service(&arenas, &sessions, &peers, &authz),
        stats_service(&arenas, &sessions, &peers, &authz, &stopping) {
    std::filesystem::create_directories(dir);
    for (const char* id : {"default", "b"}) {
      ArenaSpec spec;
      spec.id = id;
      spec.capacity = 1 << 20;
      if (!arenas.Create(spec).ok()) __builtin_trap();
    }
    stopping.Notify();  // WatchStats ends at once
  }
  ~World() { std::filesystem::remove_all(dir); }

  std::string dir;
  SessionRegistry sessions;
  ArenaRegistry arenas;
  PeerTable peers;
  Authz authz;
  absl::Notification stopping;
  ArenaServiceImpl arena_service;
  SessionServiceImpl session_service;
  StatsServiceImpl stats_service;
};

World* the_world = nullptr;

World& TheWorld() {
  if (the_world == nullptr) {
    the_world = new World();
    // libFuzzer ends with exit(): remove the shm directory then (the registry keeps it).
    std::atexit([] { std::filesystem::remove_all(the_world->dir); });
  }
  return *the_world;
}

template <typename Req, typename Resp, typename Service>
void Call(Service& s, grpc::Status (Service::*method)(grpc::ServerContext*, const Req*, Resp*),
          const uint8_t* data, size_t size) {
  Req req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return;
  grpc::ServerContext ctx;
  Resp resp;
  (void)(s.*method)(&ctx, &req, &resp);
}

}  // namespace
}  // namespace shmpool::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shmpool::server;
  namespace v1 = shmpool::v1;
  if (size == 0) return 0;
  World& w = TheWorld();
  const uint8_t which = data[0] % 10;
  ++data;
  --size;
  ArenaServiceImpl& a = w.arena_service;
  switch (which) {
    case 0:
      Call(a, &ArenaServiceImpl::CreateArena, data, size);
      break;
    case 1:
      Call(a, &ArenaServiceImpl::GetArena, data, size);
      break;
    case 2:
      Call(a, &ArenaServiceImpl::ListArenas, data, size);
      break;
    case 3:
      Call(a, &ArenaServiceImpl::DeleteArena, data, size);
      break;
    case 4:
      Call(a, &ArenaServiceImpl::ResetArena, data, size);
      break;
    case 5:
      Call(a, &ArenaServiceImpl::PurgeArena, data, size);
      break;
    case 6:
      Call(a, &ArenaServiceImpl::UpdateArena, data, size);
      break;
    case 7:
      Call(w.session_service, &SessionServiceImpl::AttachArena, data, size);
      break;
    case 8:
      Call(w.stats_service, &StatsServiceImpl::GetStats, data, size);
      break;
    case 9:
      Call(w.stats_service, &StatsServiceImpl::GetSegmentMap, data, size);
      break;
  }
  return 0;
}
