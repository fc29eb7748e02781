// DaemonLink over gRPC (see daemon_link.h).
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "proto/api/endpoint.h"
#include "proto/api/names.h"
#include "shmpool/v1/arena.grpc.pb.h"
#include "shmpool/v1/session.grpc.pb.h"
#include "src/daemon_link.h"

namespace shmpool::internal {
namespace {

constexpr auto kRpcTimeout = std::chrono::seconds(10);

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + kRpcTimeout;
}

// How long Attach waits for the daemon to answer: SHMPOOL_ATTACH_TIMEOUT_MS, else 5 s; 0
// fails at once when nothing listens.
absl::StatusOr<std::chrono::milliseconds> AttachTimeout() {
  const char* env = std::getenv("SHMPOOL_ATTACH_TIMEOUT_MS");
  if (env == nullptr || *env == '\0') return std::chrono::milliseconds(5000);
  uint32_t ms = 0;
  if (!absl::SimpleAtoi(env, &ms))
    return absl::InvalidArgumentError(absl::StrCat("SHMPOOL_ATTACH_TIMEOUT_MS is '", env,
                                                   "': expected milliseconds (0 fails fast)"));
  return std::chrono::milliseconds(ms);
}

// The process that uses gRPC through this library, set by its first attach (0 before). gRPC
// keeps nothing working across fork(): a child inherits the parent's channels and their
// connections (writing on them corrupts the parent's session), its poller's epoll set, and
// none of its executor and timer threads, so a call in the child blocks past any deadline.
// gRPC's own fork handlers help only with GRPC_ENABLE_FORK_SUPPORT set before grpc_init
// and no thread inside gRPC at the fork, and the session thread always is (reading its
// stream). So the library uses gRPC in that process only.
std::atomic<pid_t> grpc_process{0};

// OK in the process that uses gRPC here (claimed by the first call); UNAVAILABLE at once in
// a forked child of it.
absl::Status UseGrpcHere() {
  const pid_t self = getpid();
  pid_t owner = 0;
  if (grpc_process.compare_exchange_strong(owner, self) || owner == self) return absl::OkStatus();
  return absl::UnavailableError(absl::StrFormat(
      "pid %d is a fork() child of pid %d, which reached shmpoold through gRPC, and gRPC cannot "
      "be used in a forked child: fork before attaching, or exec in the child",
      self, owner));
}

// Reconnects within 100 ms .. 1 s of a daemon coming back (gRPC's default starts at 1 s
// and grows to 2 min), so a restart costs attaching and re-registering clients little.
std::shared_ptr<grpc::Channel> DaemonChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

struct DaemonLink::Impl {
  std::string endpoint;
  std::string arena;  // "arenas/{id}"
  std::string client_name;
  pid_t pid = getpid();  // the process whose channel and thread these are
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::SessionService::Stub> sessions;
  std::unique_ptr<v1::ArenaService::Stub> arenas;
  SegmentInfo segment;
  std::string session;  // "sessions/{id}" of the current session
  // Owned by the thread once it runs.
  Mapping mapping;
  FollowReset follow;
  uint64_t follow_failed_for = 0;  // the generation whose follow failure was reported

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  grpc::ClientContext* stream_ctx ABSL_GUARDED_BY(mu) = nullptr;  // the open stream's
  std::thread thread;

  // wait_for_ready: the call waits (up to `deadline`) for a daemon that went away.
  absl::Status AttachRpc(bool wait_for_ready = false,
                         std::chrono::system_clock::time_point deadline = Deadline());
  // Follows the arena to `generation` (FollowReset); false, reported once, when it cannot.
  bool Follow(uint64_t generation);
  // Opens a stream for `session` and reads ATTACHED; on success the stream is returned.
  absl::Status OpenStream(std::unique_ptr<grpc::ClientContext>* ctx,
                          std::unique_ptr<grpc::ClientReader<v1::SessionEvent>>* reader);
  void HoldStreams(std::unique_ptr<grpc::ClientContext> ctx,
                   std::unique_ptr<grpc::ClientReader<v1::SessionEvent>> reader);
  bool Stopping() {
    absl::MutexLock lock(&mu);
    return stopping;
  }
};

absl::Status DaemonLink::Impl::AttachRpc(bool wait_for_ready,
                                         std::chrono::system_clock::time_point deadline) {
  v1::AttachArenaRequest req;
  req.set_arena(arena);
  req.set_client_name(client_name);
  v1::AttachArenaResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  ctx.set_wait_for_ready(wait_for_ready);
  grpc::Status st = sessions->AttachArena(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st, absl::StrCat("attach to ", arena, " at ", endpoint));
  SegmentInfo s;
  s.path = resp.segment().path();
  s.segment_bytes = resp.segment().segment_bytes();
  s.capacity = resp.segment().capacity_bytes();
  s.layout_version = resp.segment().layout_version();
  s.max_procs = resp.segment().max_procs();
  s.max_thread_caches = resp.segment().max_thread_caches();
  s.generation = resp.segment().generation();
  if (!segment.path.empty() && (s.path != segment.path || s.segment_bytes != segment.segment_bytes))
    return absl::FailedPreconditionError(absl::StrFormat(
        "the daemon now serves %s from %s, not the segment this client mapped", arena, s.path));
  segment = s;
  session = resp.session().name();
  return absl::OkStatus();
}

absl::Status DaemonLink::Impl::OpenStream(
    std::unique_ptr<grpc::ClientContext>* ctx,
    std::unique_ptr<grpc::ClientReader<v1::SessionEvent>>* reader) {
  *ctx = std::make_unique<grpc::ClientContext>();
  v1::StreamSessionRequest req;
  req.set_session(session);
  req.set_proc_index(mapping.proc_index);
  *reader = sessions->StreamSession(ctx->get(), req);
  v1::SessionEvent ev;
  if ((*reader)->Read(&ev) && ev.kind() == v1::SessionEvent::ATTACHED) return absl::OkStatus();
  grpc::Status st = (*reader)->Finish();
  if (st.ok()) st = grpc::Status(grpc::StatusCode::INTERNAL, "stream ended before ATTACHED");
  return FromGrpc(st, absl::StrCat("open session ", session));
}

bool DaemonLink::Impl::Follow(uint64_t generation) {
  absl::StatusOr<Mapping> m = follow(generation);
  if (!m.ok()) {
    if (follow_failed_for != generation && !absl::IsCancelled(m.status()))
      std::fprintf(stderr,
                   "shmpool: cannot follow the reset of %s to generation %llu (%s); this process "
                   "keeps allocating from generation %llu and retries every second\n",
                   arena.c_str(), static_cast<unsigned long long>(generation),
                   std::string(m.status().message()).c_str(),
                   static_cast<unsigned long long>(mapping.generation));
    follow_failed_for = generation;
    return false;
  }
  mapping = *m;
  return true;
}

// The background thread: holds the stream. On RESET it follows the arena to the new
// generation and registers again at once (the old session is the retired generation's);
// when the daemon goes away, it re-registers every second.
void DaemonLink::Impl::HoldStreams(std::unique_ptr<grpc::ClientContext> ctx,
                                   std::unique_ptr<grpc::ClientReader<v1::SessionEvent>> reader) {
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      if (stopping) ctx->TryCancel();
      stream_ctx = ctx.get();
    }
    v1::SessionEvent ev;
    bool reset = false;
    while (!reset && reader->Read(&ev)) reset = ev.kind() == v1::SessionEvent::RESET;
    if (reset) ctx->TryCancel();
    reader->Finish();
    {
      absl::MutexLock lock(&mu);
      stream_ctx = nullptr;
    }
    if (reset) Follow(ev.generation());
    // Re-register: at once after a reset, else (the daemon stopped) with the next daemon.
    for (bool wait = !reset;; wait = true) {
      if (wait) {
        absl::MutexLock lock(&mu);
        auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping; };
        if (mu.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(1))) return;
      } else if (Stopping()) {
        return;
      }
      absl::Status st = AttachRpc();
      if (absl::IsFailedPrecondition(st)) return;  // another segment now: give up
      // The daemon's generation may be newer than the client's (a reset it missed).
      if (st.ok() && Follow(segment.generation) && OpenStream(&ctx, &reader).ok()) break;
    }
  }
}

DaemonLink::DaemonLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<DaemonLink>> DaemonLink::Attach(const std::string& endpoint,
                                                               const std::string& arena_id,
                                                               const std::string& client_name) {
  if (absl::Status st = api::ValidateArenaId(arena_id); !st.ok()) return st;
  absl::StatusOr<std::string> target = api::ClientEndpoint(endpoint);
  if (!target.ok()) return target.status();
  absl::StatusOr<api::Endpoint> ep = api::ParseEndpoint(*target);
  if (!ep.ok()) return ep.status();
  auto impl = std::make_unique<Impl>();
  impl->endpoint = ep->Target();
  impl->arena = api::ArenaName(arena_id);
  impl->client_name = client_name;
  absl::StatusOr<std::chrono::milliseconds> wait = AttachTimeout();
  if (!wait.ok()) return wait.status();
  if (absl::Status st = UseGrpcHere(); !st.ok()) return st;
  impl->channel = DaemonChannel(impl->endpoint);
  // A daemon that restarts (an upgrade, a crash) is waited for, as gRPC's wait-for-ready
  // does, up to the attach timeout.
  // A daemon killed while the attach call is under way is waited for the same way.
  // The attach call too ends by then: a connection this process already holds may lead to
  // a daemon that stopped answering.
  const auto deadline = std::chrono::system_clock::now() + *wait;
  const auto rpc_deadline = wait->count() > 0 ? std::min(deadline, Deadline()) : Deadline();
  const absl::Status unanswered = absl::UnavailableError(
      absl::StrFormat("no shmpool daemon answered at %s within %d ms (SHMPOOL_ATTACH_TIMEOUT_MS)",
                      impl->endpoint, wait->count()));
  if (wait->count() > 0 && !impl->channel->WaitForConnected(deadline)) return unanswered;
  impl->sessions = v1::SessionService::NewStub(impl->channel);
  impl->arenas = v1::ArenaService::NewStub(impl->channel);
  absl::Status st = impl->AttachRpc(wait->count() > 0, rpc_deadline);
  while (absl::IsUnavailable(st) && wait->count() > 0 &&
         std::chrono::system_clock::now() < deadline && impl->channel->WaitForConnected(deadline))
    st = impl->AttachRpc(true, rpc_deadline);
  if (absl::IsDeadlineExceeded(st) && wait->count() > 0 &&
      std::chrono::system_clock::now() >= deadline)
    return unanswered;
  if (!st.ok()) return st;
  return std::unique_ptr<DaemonLink>(new DaemonLink(std::move(impl)));
}

const DaemonLink::SegmentInfo& DaemonLink::segment() const { return impl_->segment; }

absl::Status DaemonLink::OpenSession(const Mapping& mapping, FollowReset follow) {
  impl_->mapping = mapping;
  impl_->follow = std::move(follow);
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::SessionEvent>> reader;
  if (absl::Status st = impl_->OpenStream(&ctx, &reader); !st.ok()) return st;
  Impl* impl = impl_.get();
  impl->thread = std::thread([impl, c = std::move(ctx), r = std::move(reader)]() mutable {
    impl->HoldStreams(std::move(c), std::move(r));
  });
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DaemonLink::Purge() {
  if (absl::Status st = UseGrpcHere(); !st.ok()) return st;
  v1::PurgeArenaRequest req;
  req.set_name(impl_->arena);
  v1::PurgeArenaResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  grpc::Status st = impl_->arenas->PurgeArena(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st, absl::StrCat("purge ", impl_->arena));
  return resp.released_bytes();
}

DaemonLink::~DaemonLink() {
  // A forked child's copy of the parent's link: its thread does not run here, and
  // cancelling its stream would write on the parent's connection and end the parent's
  // session. The copy is left as it is (its memory is not freed).
  if (getpid() != impl_->pid) {
    (void)impl_.release();
    return;
  }
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
    if (impl_->stream_ctx != nullptr) impl_->stream_ctx->TryCancel();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace shmpool::internal
