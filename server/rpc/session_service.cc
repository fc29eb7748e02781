#include "server/rpc/session_service.h"

#include <optional>

#include "server/core/log.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/proto_convert.h"

namespace shmpool::server {

// One open StreamSession. Sends ATTACHED, then RESET for each reset of its arena, and waits
// for the end. One write is in flight at a time: event_ is being written, next_ waits (a
// newer RESET replaces an older one not yet sent: only the latest generation matters).
// Finish is called exactly once: at once if no write is in flight, else when the write
// completes. gRPC runs OnDone (never inline in Finish) after which the reactor deletes
// itself.
class SessionStream final : public grpc::ServerWriteReactor<v1::SessionEvent> {
 public:
  SessionStream(SessionServiceImpl* service, const SessionInfo& session)
      : service_(service), session_(session) {
    event_.set_kind(v1::SessionEvent::ATTACHED);
    absl::MutexLock lock(&mu_);
    write_pending_ = true;
    StartWrite(&event_);
  }

  const SessionInfo& session() const { return session_; }

  void SendReset(uint64_t generation, const v1::SegmentInfo& segment) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_ || (next_.has_value() && next_->generation() >= generation)) return;
    next_.emplace();
    next_->set_kind(v1::SessionEvent::RESET);
    next_->set_generation(generation);
    *next_->mutable_segment() = segment;
    if (!write_pending_) StartNextLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_pending_ = false;
    if (!ok && !finish_requested_) {
      finish_requested_ = true;
      finish_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the client went away");
    }
    if (finish_requested_)
      FinishLocked();
    else if (next_.has_value())
      StartNextLocked();
  }
  void OnCancel() override { RequestFinish(grpc::Status::CANCELLED); }
  void OnDone() override {
    service_->sessions_->End(session_.id);
    service_->Remove(this);
    LogInfo("session_ended")
        .Kv("session", session_.id)
        .Kv("arena", session_.arena_id)
        .Kv("pid", session_.peer.pid);
    delete this;
  }

  void RequestFinish(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = status;
    if (!write_pending_) FinishLocked();
  }

 private:
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    event_ = std::move(*next_);
    next_.reset();
    write_pending_ = true;
    StartWrite(&event_);
  }
  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(finish_status_);
  }

  SessionServiceImpl* const service_;
  const SessionInfo session_;
  v1::SessionEvent event_;  // the event being written (ATTACHED first)
  absl::Mutex mu_;
  std::optional<v1::SessionEvent> next_ ABSL_GUARDED_BY(mu_);
  bool write_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

namespace {

// A stream that fails before it opens: finishes at once.
class FailedStream final : public grpc::ServerWriteReactor<v1::SessionEvent> {
 public:
  explicit FailedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

SessionServiceImpl::SessionServiceImpl(ArenaRegistry* arenas, SessionRegistry* sessions,
                                       const PeerTable* peers, const Authz* authz)
    : arenas_(arenas),
      sessions_(sessions),
      resolver_(arenas, peers, authz),
      ops_(&resolver_, sessions) {
  arenas_->SetResetObserver(this);
}

SessionServiceImpl::~SessionServiceImpl() { arenas_->SetResetObserver(nullptr); }

grpc::ServerWriteReactor<v1::SessionEvent>* SessionServiceImpl::StreamSession(
    grpc::CallbackServerContext* ctx, const v1::StreamSessionRequest* req) {
  absl::MutexLock lock(&mu_);
  if (stopping_)
    return new FailedStream(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shmpoold is stopping"));
  absl::StatusOr<SessionInfo> session =
      ops_.Open(resolver_.Caller(ctx->peer()), StreamOpen{req->session(), req->proc_index()});
  if (!session.ok()) return new FailedStream(ToGrpc(session.status()));
  auto* stream = new SessionStream(this, *session);
  streams_.insert(stream);
  LogInfo("session_live")
      .Kv("session", session->id)
      .Kv("arena", session->arena_id)
      .Kv("proc_index", session->proc_index);
  return stream;
}

void SessionServiceImpl::Remove(SessionStream* s) {
  absl::MutexLock lock(&mu_);
  streams_.erase(s);
}

void SessionServiceImpl::ArenaReset(const ArenaRecord& fresh) {
  v1::SegmentInfo segment;
  ToProto(fresh, &segment);
  absl::MutexLock lock(&mu_);
  int told = 0;
  for (SessionStream* s : streams_) {
    // Streams of sessions that attached to this generation already map it.
    if (s->session().arena_id != fresh.spec.id || s->session().generation == fresh.generation)
      continue;
    s->SendReset(fresh.arena_generation(), segment);
    ++told;
  }
  LogInfo("sessions_told_of_reset")
      .Kv("arena", fresh.spec.id)
      .Kv("generation", fresh.arena_generation())
      .Kv("streams", told);
}

void SessionServiceImpl::Shutdown() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  // Safe under mu_: Finish never runs OnDone inline, and OnDone's Remove waits for mu_.
  for (SessionStream* s : streams_)
    s->RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shmpoold is stopping"));
}

}  // namespace shmpool::server
