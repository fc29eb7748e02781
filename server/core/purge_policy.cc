#include "server/core/purge_policy.h"

#include <sys/statvfs.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "server/core/log.h"
#include "shm/atomics.h"
#include "shm/purge.h"
#include "shm/stats.h"

namespace shmpool::server {

const char* ReasonName(PurgeOrder::Reason r) {
  switch (r) {
    case PurgeOrder::kDecay:
      return "decay";
    case PurgeOrder::kMemoryLimit:
      return "memory_limit";
    case PurgeOrder::kLowDiskSpace:
      return "low_disk_space";
  }
  return "?";
}

int64_t PurgeDecider::DecayMsOf(const std::string& id) const {
  auto it = decay_ms_.find(id);
  return it != decay_ms_.end() ? it->second : config_.decay_ms;
}

uint64_t PurgeDecider::DirtyOf(const ArenaLook& a) {
  auto it = slab_base_.try_emplace(a.id, 0).first;
  if (it->second == kRebase) it->second = a.slab_free;
  it->second = std::min(it->second, a.slab_free);
  const uint64_t page = uint64_t{1} << shm::kPageShift;
  return a.dirty + ((a.slab_free - it->second) & ~(page - 1));
}

std::vector<PurgeOrder> PurgeDecider::Decide(absl::Time now, const std::vector<ArenaLook>& arenas,
                                             uint64_t fs_free) {
  std::vector<PurgeOrder> out;
  absl::flat_hash_map<std::string, uint64_t> dirty;
  for (const ArenaLook& a : arenas) dirty[a.id] = DirtyOf(a);
  // Pressure first: the dirtiest arenas until the excess is covered.
  uint64_t resident = 0;
  for (const ArenaLook& a : arenas) resident += a.resident;
  uint64_t need = 0;
  PurgeOrder::Reason why = PurgeOrder::kMemoryLimit;
  if (config_.memory_limit && resident > config_.memory_limit)
    need = resident - config_.memory_limit;
  if (config_.min_free && fs_free < config_.min_free && config_.min_free - fs_free > need) {
    need = config_.min_free - fs_free;
    why = PurgeOrder::kLowDiskSpace;
  }
  std::vector<const ArenaLook*> order;
  for (const ArenaLook& a : arenas)
    if (dirty[a.id]) order.push_back(&a);
  std::sort(order.begin(), order.end(),
            [&](const ArenaLook* x, const ArenaLook* y) { return dirty[x->id] > dirty[y->id]; });
  absl::flat_hash_map<std::string, bool> ordered;
  for (const ArenaLook* a : order) {
    if (need == 0) break;
    out.push_back({a->id, why});
    ordered[a->id] = true;
    need -= std::min(need, dirty[a->id]);
  }
  // Decay: dirty continuously for the arena's decay time.
  absl::flat_hash_map<std::string, absl::Time> seen;
  for (const ArenaLook& a : arenas) {
    if (dirty[a.id] == 0) continue;
    auto it = dirty_since_.find(a.id);
    const absl::Time since = it != dirty_since_.end() ? it->second : now;
    const int64_t ms = DecayMsOf(a.id);
    if (ordered.contains(a.id)) continue;  // purged now anyway: the clock restarts
    if (ms >= 0 && now - since >= absl::Milliseconds(ms)) {
      out.push_back({a.id, PurgeOrder::kDecay});
      continue;
    }
    seen[a.id] = since;
  }
  dirty_since_ = std::move(seen);
  for (const PurgeOrder& o : out) slab_base_[o.id] = kRebase;
  for (auto it = slab_base_.begin(); it != slab_base_.end();)  // arenas deleted meanwhile
    if (dirty.contains(it->first))
      ++it;
    else
      slab_base_.erase(it++);
  return out;
}

namespace {

absl::flat_hash_map<std::string, int64_t> ArenaDecay(const Config& config) {
  absl::flat_hash_map<std::string, int64_t> m;
  for (const ArenaSpec& a : config.arenas)
    if (a.decay_ms) m[a.id] = *a.decay_ms;
  return m;
}

}  // namespace

PurgePolicy::PurgePolicy(ArenaRegistry* arenas, const Config& config)
    : arenas_(arenas),
      shm_dir_(config.shm_dir),
      config_(config.purge),
      decider_(config.purge, ArenaDecay(config)) {
  any_decay_ = config.purge.decay_ms >= 0;
  for (const ArenaSpec& a : config.arenas)
    if (a.decay_ms && *a.decay_ms >= 0) any_decay_ = true;
}

bool PurgePolicy::enabled() const {
  return any_decay_ || config_.memory_limit > 0 || config_.min_free > 0;
}

void PurgePolicy::Start() {
  if (!enabled() || thread_.joinable()) return;
  LogInfo("purge_policy_started")
      .Kv("decay_ms", config_.decay_ms)
      .Kv("memory_limit", config_.memory_limit)
      .Kv("min_free", config_.min_free)
      .Kv("interval_ms", config_.interval_ms);
  thread_ = std::thread([this] { Run(); });
}

void PurgePolicy::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
}

void PurgePolicy::Run() {
  while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(config_.interval_ms))) LookOnce();
}

void PurgePolicy::LookOnce() {
  const std::vector<ArenaPtr> list = arenas_->List();
  std::vector<ArenaLook> looks;
  looks.reserve(list.size());
  for (const ArenaPtr& a : list) {
    // A quarantined arena is not looked at (nor purged); one this look faults is skipped.
    if (a->quarantine) continue;
    ArenaLook look{.id = a->spec.id};
    const absl::Status st = arenas_->WithSegment(*a, [&](const shm::Segment& seg) {
      const shm::SegmentHeader& h = seg.header();
      // Cheap: a few counters per class and fstat, no walk over caches or slabs.
      const uint64_t free_pages = shm::LoadRelaxed(h.heap.xfree_pages);
      const uint64_t retained = shm::LoadRelaxed(h.heap.xretained_pages);
      uint64_t in_ring = 0;
      for (uint32_t c = 1; c < shm::kNumClasses; ++c) {
        const shm::CentralFree f = shm::CentralFreeOf(seg, c);
        in_ring += f.in_ring;
        look.slab_free += f.free_in_slabs;
      }
      look.dirty = ((free_pages - std::min(free_pages, retained)) << shm::kPageShift) + in_ring;
      look.resident = seg.ResidentBytes();
    });
    if (st.ok()) looks.push_back(std::move(look));
  }
  struct statvfs vfs {};
  const uint64_t fs_free =
      statvfs(shm_dir_.c_str(), &vfs) == 0 ? uint64_t{vfs.f_bavail} * vfs.f_frsize : ~uint64_t{0};
  for (const PurgeOrder& o : decider_.Decide(absl::Now(), looks, fs_free)) {
    for (const ArenaPtr& a : list) {
      if (a->spec.id != o.id) continue;
      shm::PurgeResult r;
      const absl::Status st = arenas_->WithSegment(*a, [&](const shm::Segment& seg) {
        r = shm::Purge(seg, o.reason == PurgeOrder::kDecay ? shm::PurgeReason::kDecay
                                                           : shm::PurgeReason::kPressure);
      });
      if (!st.ok()) continue;  // quarantined (logged there)
      LogInfo("purged")
          .Kv("arena", o.id)
          .Kv("reason", ReasonName(o.reason))
          .Kv("released", r.released_bytes)
          .Kv("ns", r.nanoseconds);
    }
  }
}

}  // namespace shmpool::server
