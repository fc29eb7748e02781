// SessionService (shmpool.v1): AttachArena (synchronous: SessionOps::Attach through Call)
// and StreamSession (callback API: an open session holds no thread, so thousands of
// attached clients cost no threads; SessionOps::Open makes its session LIVE).
//
// A session's stream is a reactor (SessionStream, in the .cc) registered in streams_ while
// the stream is open. Its end, for any reason (client cancel, lost connection, daemon
// shutdown), ends the session in the SessionRegistry. Shutdown() finishes every open stream
// with UNAVAILABLE and refuses new ones.
//
// An arena reset (ArenaRegistry::Reset, which tells this service as its ResetObserver)
// sends RESET with the new generation on every open stream of the arena. The client maps
// the new generation, attaches again (a new session, with its process record there) and
// cancels the old stream. A stream opened for a session that attached before a reset is
// refused (FAILED_PRECONDITION), and the client attaches again.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "server/core/session_ops.h"
#include "server/rpc/call.h"
#include "shmpool/v1/session.grpc.pb.h"

namespace shmpool::server {

class SessionStream;

class SessionServiceImpl final
    : public v1::SessionService::WithCallbackMethod_StreamSession<v1::SessionService::Service>,
      public ResetObserver {
 public:
  // Registers itself as `arenas`' reset observer until destroyed.
  SessionServiceImpl(ArenaRegistry* arenas, SessionRegistry* sessions, const PeerTable* peers,
                     const Authz* authz);
  ~SessionServiceImpl() override;

  grpc::Status AttachArena(grpc::ServerContext* ctx, const v1::AttachArenaRequest* req,
                           v1::AttachArenaResponse* resp) override {
    return Call(ctx, req, resp, ops_, &SessionOps::Attach);
  }
  grpc::ServerWriteReactor<v1::SessionEvent>* StreamSession(
      grpc::CallbackServerContext* ctx, const v1::StreamSessionRequest* req) override;

  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends RESET to every open stream of the arena.
  void ArenaReset(const ArenaRecord& fresh) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class SessionStream;
  void Remove(SessionStream* s) ABSL_LOCKS_EXCLUDED(mu_);

  ArenaRegistry* const arenas_;
  SessionRegistry* const sessions_;
  const Resolver resolver_;
  const SessionOps ops_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<SessionStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmpool::server
