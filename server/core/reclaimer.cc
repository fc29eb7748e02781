#include "server/core/reclaimer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "absl/time/clock.h"
#include "server/core/log.h"
#include "server/core/segment_guard.h"
#include "shm/atomics.h"
#include "shm/client_stats.h"
#include "shm/proc_identity.h"
#include "shm/recovery.h"

namespace shmpool::server {
namespace {

constexpr size_t kHistory = 256;
constexpr absl::Duration kRetryDelay = absl::Milliseconds(5);

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Net bytes handed out through the caches of process record `index` and not freed through
// them (blocks freed by another process count there): read before its caches are reclaimed.
int64_t AllocatedThroughCaches(const shm::Segment& seg, uint32_t index) {
  for (const shm::ClientStats& c : shm::CollectClientStats(seg))
    if (c.proc == index) return c.net_bytes();
  return 0;
}

}  // namespace

Reclaimer::Reclaimer(ArenaRegistry* arenas, absl::Duration audit_interval,
                     const ProcessProber& prober, const Clock& clock)
    : arenas_(arenas), audit_interval_(audit_interval), prober_(prober), clock_(clock) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Reclaimer::~Reclaimer() {
  Stop();
  for (WatchEntry& w : watches_) close(w.pidfd);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Reclaimer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Reclaimer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
}

void Reclaimer::Wake() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
}

void Reclaimer::Watch(const SessionInfo& s) {
  if (!s.peer.local || s.proc_index < 0) return;  // TCP peers: the audit covers them
  absl::StatusOr<ArenaPtr> arena = arenas_->Get(s.arena_id);
  if (!arena.ok() || static_cast<uint32_t>(s.proc_index) >= (*arena)->segment->geometry().max_procs)
    return;
  WatchEntry w;
  w.arena_id = s.arena_id;
  w.segment = (*arena)->segment;
  w.proc_index = static_cast<uint32_t>(s.proc_index);
  shm::ProcIdentity id;
  if (!shm::ReadProcRecord(*w.segment, w.proc_index, &w.word, &id) ||
      shm::ProcRecord::StateOf(w.word) != shm::ProcRecord::kLive ||
      id.pid != static_cast<uint32_t>(s.peer.pid))
    return;  // the record is not this peer's: nothing to watch
  w.pid = id.pid;
  w.start_time = id.start_time;
  w.pidfd = PidfdOpen(static_cast<pid_t>(w.pid));
  // Opened before this check, the pidfd is the attached process if that process still runs:
  // a pid reused by another process would have another start time.
  if (prober_.KnownGone(id)) w.exited = true;
  absl::MutexLock lock(&mu_);
  pending_.push_back(std::move(w));
  Wake();
}

void Reclaimer::StreamEnded(const SessionInfo& s) {
  if (!s.peer.local || s.proc_index < 0) return;
  WatchEntry w;
  w.arena_id = s.arena_id;
  w.proc_index = static_cast<uint32_t>(s.proc_index);
  w.pid = static_cast<uint32_t>(s.peer.pid);
  absl::MutexLock lock(&mu_);
  ended_.push_back(std::move(w));
  Wake();
}

std::vector<DeadClient> Reclaimer::DeadClients(const std::string& arena_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<DeadClient> out;
  for (const DeadClient& d : history_)
    if (arena_id.empty() || d.arena_id == arena_id) out.push_back(d);
  return out;
}

void Reclaimer::Remember(DeadClient d) {
  LogWarning("dead_client_reclaimed")
      .Kv("arena", d.arena_id)
      .Kv("generation", d.generation)
      .Kv("pid", d.pid)
      .Kv("proc_index", d.proc_index)
      .Kv("name", d.name)
      .Kv("found_by", d.how)
      .Kv("caches", d.caches)
      .Kv("blocks_returned", d.blocks_returned)
      .Kv("allocated_bytes_left", d.allocated_bytes)
      .Kv("note", "blocks the dead client allocated stay allocated until freed or arena reset");
  absl::MutexLock lock(&mu_);
  history_.push_back(std::move(d));
  if (history_.size() > kHistory) history_.pop_front();
}

Reclaimer::Outcome Reclaimer::ReclaimIndex(const std::string& arena_id, const shm::Segment& seg,
                                           uint32_t index, uint64_t word, const char* how) {
  const shm::ProcRecord& rec = seg.proc(index);
  DeadClient d;
  d.arena_id = arena_id;
  d.generation = seg.header().generation.number;
  d.pid = rec.pid;
  d.proc_index = index;
  d.name.assign(rec.name, strnlen(rec.name, sizeof rec.name));
  d.how = how;
  d.allocated_bytes = AllocatedThroughCaches(seg, index);
  absl::StatusOr<shm::ReclaimReport> r = shm::ReclaimProcess(seg, index, word);
  if (!r.ok()) {
    if (absl::IsUnavailable(r.status())) return Outcome::kRetry;
    // Aborted: the record was detached, maybe claimed again, since the verdict.
    const bool dropped = absl::IsAborted(r.status());
    (dropped ? LogInfo("reclaim_dropped") : LogWarning("reclaim_failed"))
        .Kv("arena", arena_id)
        .Kv("generation", d.generation)
        .Kv("proc_index", index)
        .Kv("reason", r.status().message());
    return dropped ? Outcome::kDropped : Outcome::kDone;
  }
  if (r->chains_cut != 0)
    LogWarning("reclaim_cut_chains")
        .Kv("arena", arena_id)
        .Kv("generation", d.generation)
        .Kv("proc_index", index)
        .Kv("chains", r->chains_cut)
        .Kv("note",
            "the dead client's cache record was corrupted: blocks past a bad link are lost");
  d.reclaimed_at = clock_.Now();
  d.caches = r->caches;
  d.blocks_returned = r->blocks_returned;
  Remember(std::move(d));
  return Outcome::kDone;
}

Reclaimer::Outcome Reclaimer::TryReclaim(const WatchEntry& w, const char* how) {
  // Detached (record freed, maybe claimed again by another process): nothing to do. The
  // record cannot change under us otherwise: its process is gone and only we reclaim.
  if (!StillNamed(w)) return Outcome::kDone;
  Outcome out = Outcome::kDone;
  absl::StatusOr<ArenaPtr> arena = arenas_->Get(w.arena_id);
  if (arena.ok() && (*arena)->segment == w.segment) {
    // A fault quarantines the arena (logged there): nothing more to reclaim in it.
    arenas_
        ->WithSegment(**arena,
                      [&](const shm::Segment& seg) {
                        out = ReclaimIndex(w.arena_id, seg, w.proc_index, w.word, how);
                      })
        .IgnoreError();
    return out;
  }
  // A retired generation (or the last mapping of a deleted arena): no arena to quarantine,
  // so a fault only ends this reclaim.
  if (std::optional<QuarantineReason> q = RunUntrusted(*w.segment, arenas_->lock_deadline(), [&] {
        out = ReclaimIndex(w.arena_id, *w.segment, w.proc_index, w.word, how);
      })) {
    LogWarning("reclaim_faulted")
        .Kv("arena", w.arena_id)
        .Kv("generation", w.segment->header().generation.number)
        .Kv("proc_index", w.proc_index)
        .Kv("fault", FaultKindName(q->kind))
        .Kv("reason", q->message);
    return Outcome::kDone;
  }
  return out;
}

bool Reclaimer::StillNamed(const WatchEntry& w) const {
  const uint64_t now = shm::LoadAcquire(w.segment->proc(w.proc_index).xword);
  return now == w.word || now == shm::ProcRecord::WithState(w.word, shm::ProcRecord::kDead);
}

Reclaimer::Covered Reclaimer::PidfdCovered() const {
  Covered covered;
  auto add = [&covered](const WatchEntry& w) {
    if (w.pidfd >= 0 && !w.exited) covered[{w.segment.get(), w.proc_index}] = w.word;
  };
  for (const WatchEntry& w : watches_) add(w);
  absl::MutexLock lock(&mu_);
  for (const WatchEntry& w : pending_) add(w);
  return covered;
}

int Reclaimer::Audit(const char* how) {
  const Covered covered = PidfdCovered();
  int n = 0;
  for (const ArenaPtr& a : arenas_->List()) {
    if (a->quarantine) continue;
    // A fault quarantines the arena (logged there); the other arenas are audited.
    arenas_
        ->WithSegment(
            *a, [&](const shm::Segment& seg) { n += AuditSegment(a->spec.id, seg, how, covered); })
        .IgnoreError();
    for (const RetiredGeneration& r : a->retired)
      if (std::optional<QuarantineReason> q =
              RunUntrusted(*r.segment, arenas_->lock_deadline(),
                           [&] { n += AuditSegment(a->spec.id, *r.segment, how, covered); }))
        LogWarning("audit_faulted")
            .Kv("arena", a->spec.id)
            .Kv("generation", r.segment->header().generation.number)
            .Kv("fault", FaultKindName(q->kind))
            .Kv("reason", q->message);
  }
  arenas_->ProbeLocked();
  return n;
}

bool Reclaimer::ProcessIsDead(const shm::Segment& seg, uint32_t index, uint64_t* word) const {
  uint64_t w = 0;
  shm::ProcIdentity id;
  if (!shm::ReadProcRecord(seg, index, &w, &id) ||
      shm::ProcRecord::StateOf(w) != shm::ProcRecord::kLive || !prober_.KnownGone(id))
    return false;
  *word = w;
  return true;
}

int Reclaimer::AuditSegment(const std::string& arena_id, const shm::Segment& seg, const char* how,
                            const Covered& covered) {
  // A purge killed mid-way (Unavailable: a live process shares the cell; the next audit or
  // purge finishes it).
  const absl::StatusOr<uint32_t> purgers = shm::ReclaimDeadPurgers(seg);
  if (purgers.ok() && *purgers != 0)
    LogWarning("dead_purger_reclaimed")
        .Kv("arena", arena_id)
        .Kv("generation", seg.header().generation.number)
        .Kv("records", *purgers)
        .Kv("note", "a purge was killed mid-way; its ring step is finished");
  int n = 0;
  for (uint32_t i = 0; i < seg.geometry().max_procs; ++i) {
    const uint64_t word = shm::LoadAcquire(seg.proc(i).xword);
    if (shm::ReleaseAbandonedClaim(seg, i)) {
      LogWarning("abandoned_claim_released")
          .Kv("arena", arena_id)
          .Kv("generation", seg.header().generation.number)
          .Kv("proc_index", i)
          .Kv("pid", shm::ProcRecord::ClaimantOf(shm::ProcRecord::StateOf(word)))
          .Kv("note", "a client was killed while it attached; its process record is free");
      continue;
    }
    // Its pidfd reports the exit of the process the record names (in that incarnation).
    if (auto it = covered.find({&seg, i}); it != covered.end() && it->second == word) continue;
    // kDead: a reclaim that a previous daemon began and did not finish.
    uint64_t verdict = word;
    if (shm::ProcRecord::StateOf(word) != shm::ProcRecord::kDead &&
        !ProcessIsDead(seg, i, &verdict))
      continue;
    for (int attempt = 0; attempt < 200; ++attempt) {
      const Outcome o = ReclaimIndex(arena_id, seg, i, verdict, how);
      if (o == Outcome::kRetry) {
        absl::SleepFor(kRetryDelay);
        continue;
      }
      n += o == Outcome::kDone;
      break;
    }
  }
  return n;
}

void Reclaimer::Loop() {
  absl::Time next_audit = clock_.Now() + audit_interval_;
  std::vector<WatchEntry> retry;  // exited, reclaim returned Unavailable
  for (;;) {
    std::vector<WatchEntry> ended;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      for (WatchEntry& w : pending_) watches_.push_back(std::move(w));
      pending_.clear();
      ended.swap(ended_);
    }
    // A stream that ended: its process may be gone already (then reclaim now).
    for (const WatchEntry& e : ended)
      for (WatchEntry& w : watches_)
        if (w.arena_id == e.arena_id && w.proc_index == e.proc_index && w.pid == e.pid) {
          w.stream_ended = true;
          // Gone, or detached (then TryReclaim finds its record freed and drops the watch).
          if (prober_.KnownGone({w.pid, w.start_time}) || !StillNamed(w)) w.exited = true;
        }
    // Reclaim every exited process; keep the others.
    std::vector<WatchEntry> keep;
    for (WatchEntry& w : watches_) {
      if (!w.exited) {
        keep.push_back(std::move(w));
        continue;
      }
      const char* how = w.pidfd >= 0 ? "pidfd" : "stream_end";
      if (TryReclaim(w, how) == Outcome::kRetry) {
        keep.push_back(std::move(w));
        continue;
      }
      if (w.pidfd >= 0) close(w.pidfd);
    }
    watches_.swap(keep);
    bool retrying = false;
    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    for (const WatchEntry& w : watches_) {
      if (w.exited) retrying = true;
      fds.push_back({w.exited ? -1 : w.pidfd, POLLIN, 0});
    }
    const absl::Time now = clock_.Now();
    if (now >= next_audit) {
      Audit("audit");
      next_audit = now + audit_interval_;
      // A stream that ended while its process still held the record (a client that follows
      // a reset keeps the retired generation's record until it releases it): once the
      // record is freed, the watch is done, and must not keep the retired segment mapped.
      for (WatchEntry& w : watches_)
        if (w.stream_ended && !StillNamed(w)) w.exited = true;
    }
    absl::Duration wait = next_audit - clock_.Now();
    if (retrying) wait = std::min(wait, kRetryDelay);
    const int ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(wait)) + 1);
    if (poll(fds.data(), fds.size(), ms) < 0 && errno != EINTR) absl::SleepFor(kRetryDelay);
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) watches_[i - 1].exited = true;
  }
}

}  // namespace shmpool::server
