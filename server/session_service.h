// SessionService (shmpool.v1): AttachArena (synchronous) and StreamSession (callback API:
// an open session holds no thread, so thousands of attached clients cost no threads).
//
// A session's stream is a reactor (SessionStream, in the .cc) registered in streams_ while
// the stream is open. Its end, for any reason (client cancel, lost connection, daemon
// shutdown), ends the session in the SessionRegistry. Shutdown() finishes every open stream
// with UNAVAILABLE and refuses new ones.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "server/arena_registry.h"
#include "server/authz.h"
#include "server/peer_table.h"
#include "server/session_registry.h"
#include "shmpool/v1/session.grpc.pb.h"

namespace shmpool::server {

class SessionStream;

class SessionServiceImpl final
    : public v1::SessionService::WithCallbackMethod_StreamSession<v1::SessionService::Service> {
 public:
  SessionServiceImpl(ArenaRegistry* arenas, SessionRegistry* sessions, const PeerTable* peers,
                     const Authz* authz)
      : arenas_(arenas), sessions_(sessions), peers_(peers), authz_(authz) {}

  grpc::Status AttachArena(grpc::ServerContext* ctx, const v1::AttachArenaRequest* req,
                           v1::AttachArenaResponse* resp) override;
  grpc::ServerWriteReactor<v1::SessionEvent>* StreamSession(
      grpc::CallbackServerContext* ctx, const v1::StreamSessionRequest* req) override;

  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class SessionStream;
  absl::Status OpenStream(grpc::CallbackServerContext* ctx, const v1::StreamSessionRequest& req,
                          SessionInfo* session);
  void Remove(SessionStream* s) ABSL_LOCKS_EXCLUDED(mu_);

  ArenaRegistry* const arenas_;
  SessionRegistry* const sessions_;
  const PeerTable* const peers_;
  const Authz* const authz_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<SessionStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmpool::server
