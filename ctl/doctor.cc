#include "ctl/doctor.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ctl/json.h"
#include "ctl/rpc_common.h"
#include "proto/api/size.h"
#include "proto/stat_fields.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

std::string Pct(double r) { return absl::StrFormat("%.0f%%", 100 * r); }

constexpr double kMaxCount = 1152921504606846976.0;  // 2^60

// The external fragmentation `stats` prints (the same field, one definition: stats.proto).
// A purge gives back slab pages that hold no live block (they become parked), so it is
// recommended only while such free bytes are still resident.
// How long ago the last purge ended, if one ran.
std::optional<absl::Duration> SincePurge(const v1::ArenaStats& s, absl::Time now) {
  if (!s.has_last_purge_time()) return std::nullopt;
  return now - (absl::FromUnixSeconds(s.last_purge_time().seconds()) +
                absl::Nanoseconds(s.last_purge_time().nanos()));
}

bool FreshPurge(const v1::ArenaStats& s, const DoctorThresholds& t, absl::Time now) {
  const std::optional<absl::Duration> since = SincePurge(s, now);
  return since && *since < absl::Seconds(t.fresh_purge_seconds);
}

void Fragmentation(const v1::ArenaStats& s, const DoctorThresholds& t, absl::Time now,
                   std::vector<Finding>& out) {
  if (s.active_bytes() < t.min_active || !s.has_external_fragmentation()) return;
  const double frag = s.external_fragmentation();
  if (frag <= t.fragmentation) return;
  const std::string what = absl::StrFormat(
      "High external fragmentation: %s of the %s active (slabs and large runs) hold no live "
      "block (%s free inside slabs on resident pages, %s on pages a purge already gave back, "
      "%s in thread caches, %s in transfer rings). Slabs are refilled before new ones are "
      "made, so allocating more of the same sizes reuses this space",
      Pct(frag), FormatSize(s.active_bytes()), FormatSize(s.free_in_slabs_bytes()),
      FormatSize(s.parked_bytes()), FormatSize(s.cached_bytes()), FormatSize(s.in_ring_bytes()));
  if (FreshPurge(s, t, now)) {
    out.push_back(
        {Finding::kWarning, "fragmentation",
         absl::StrFormat(
             "%s. A purge ended %s ago and gave back the pages that held "
             "no live block; what stays resident shares its pages with "
             "live blocks, so another purge would return little.",
             what, absl::FormatDuration(absl::Trunc(*SincePurge(s, now), absl::Seconds(1))))});
    return;
  }
  const uint64_t resident_free = s.free_in_slabs_bytes() + s.in_ring_bytes();
  if (resident_free < t.min_purgeable) {
    out.push_back({Finding::kWarning, "fragmentation",
                   absl::StrCat(what,
                                "; a purge would return little more: what stays resident "
                                "shares its pages with live blocks.")});
    return;
  }
  out.push_back({Finding::kWarning, "fragmentation",
                 absl::StrFormat("%s; if the workload shrank for good, `shmpoolctl purge %s` "
                                 "returns the slabs that are wholly free and the pages inside "
                                 "slabs that hold no live block.",
                                 what, ArenaIdOf(s.name()))});
}

void EmptyClasses(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  std::vector<std::string> names;
  uint64_t wasted = 0;
  for (const v1::SizeClassStats& c : s.size_classes()) {
    if (c.active_bytes() < t.min_class_active) continue;
    const double fill = double(c.allocated_bytes()) / double(c.active_bytes());
    if (fill >= t.class_fill) continue;
    names.push_back(absl::StrFormat("%d B (%s of %s used, %d slabs)", c.size(), Pct(fill),
                                    FormatSize(c.active_bytes()), c.nslabs()));
    wasted += c.active_bytes() - std::min(c.active_bytes(), c.allocated_bytes());
  }
  if (names.empty()) return;
  out.push_back({Finding::kWarning, "empty_classes",
                 absl::StrCat("Size classes whose slabs are mostly empty: ",
                              absl::StrJoin(names, ", "), "; together ", FormatSize(wasted),
                              " of their slabs is free. This is what a burst of allocations "
                              "of these sizes leaves after most were freed: the slabs stay "
                              "until every block in them is freed. Freeing the few long-lived "
                              "blocks, or allocating them from a separate arena, lets purge "
                              "return the slabs.")});
}

// The quota limits committed bytes: the pages of slabs, large runs and pools.
void Quota(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  if (s.quota_bytes() == 0) return;
  const double share = double(s.committed_bytes()) / double(s.quota_bytes());
  if (share < t.quota && s.quota_refusals() == 0) return;
  const std::string refused =
      s.quota_refusals() == 0
          ? ""
          : absl::StrFormat(" The quota refused %d page-run allocations.", s.quota_refusals());
  out.push_back(
      {share >= 1.0 || s.quota_refusals() ? Finding::kCritical : Finding::kWarning, "quota",
       absl::StrFormat("Quota nearly reached: %s committed (slabs and large runs %s, pools %s) "
                       "of a %s quota (%s).%s Free or purge memory, or raise the quota.",
                       FormatSize(s.committed_bytes()), FormatSize(s.active_bytes()),
                       FormatSize(s.pool_bytes()), FormatSize(s.quota_bytes()), Pct(share),
                       refused)});
}

void DeadClients(const v1::ArenaStats& s, std::vector<Finding>& out) {
  const uint32_t sessions = static_cast<uint32_t>(s.clients_size());
  if (s.attached_procs() <= sessions) return;
  const uint32_t orphans = s.attached_procs() - sessions;
  out.push_back(
      {Finding::kWarning, "dead_clients",
       absl::StrFormat("%d process record(s) are live in the segment but only %d session(s) are "
                       "open: %d client(s) may have died or lost the daemon without detaching. "
                       "Their thread caches (part of the %s cached) stay held until they are "
                       "reclaimed; a restarted client re-registers, otherwise reset the arena "
                       "when no client is attached.",
                       s.attached_procs(), sessions, orphans, FormatSize(s.cached_bytes()))});
}

void Caches(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  const uint64_t held = s.cached_bytes() + s.in_ring_bytes();
  if (held < t.min_cached || double(held) <= t.cache_share * double(s.allocated_bytes())) return;
  out.push_back({Finding::kWarning, "caches",
                 absl::StrFormat("Caches hoard memory: %s of free blocks sit in %d thread "
                                 "caches (%s) and transfer rings (%s), against %s allocated. "
                                 "Clients return theirs with shmpool_purge(); "
                                 "`shmpoolctl purge %s` drains the rings.",
                                 FormatSize(held), s.thread_caches(), FormatSize(s.cached_bytes()),
                                 FormatSize(s.in_ring_bytes()), FormatSize(s.allocated_bytes()),
                                 ArenaIdOf(s.name()))});
}

void Purgeable(const v1::ArenaStats& s, const DoctorThresholds& t, absl::Time now,
               std::vector<Finding>& out) {
  if (FreshPurge(s, t, now)) return;
  const uint64_t p = PurgeableBytes(s);
  if (p < t.min_purgeable || double(p) <= t.purgeable_share * double(s.resident_bytes())) return;
  out.push_back({Finding::kWarning, "purgeable",
                 absl::StrFormat("Too much resident memory is free: a purge would return about "
                                 "%s of the %s resident (%s). Run `shmpoolctl purge %s`, or set "
                                 "a decay time (decay_ms in the arena's config) so the daemon "
                                 "does it in the background.",
                                 FormatSize(p), FormatSize(s.resident_bytes()),
                                 Pct(double(p) / double(std::max<uint64_t>(1, s.resident_bytes()))),
                                 ArenaIdOf(s.name()))});
}

// Why allocations failed: a full arena, or capacity stranded as free blocks in classes
// (reclaimable) that the failing sizes could not use.
std::string FailedAllocsCause(const v1::ArenaStats& s, const DoctorThresholds& t) {
  if (double(s.reclaimable_bytes()) < t.stranded * double(s.capacity_bytes()))
    return "The arena is full: little is free in its classes.";
  return absl::StrFormat(
      "%s is free in size classes (cached %s, in transfer rings %s, inside slabs %s): "
      "capacity stranded in other sizes or in idle thread caches, not a full arena. A "
      "failing allocation drains the rings and wholly free slabs first; thread caches give "
      "back only when their threads next allocate or free past their cache, so long-idle "
      "threads with full caches keep it.",
      FormatSize(s.reclaimable_bytes()), FormatSize(s.cached_bytes()),
      FormatSize(s.in_ring_bytes()), FormatSize(s.free_in_slabs_bytes() + s.parked_bytes()));
}

// Figures no arena can show, named by field: a counter past kMaxCount (2^60: 36 years at
// 10^9 a second), or an amount of memory larger than the segment (capacity and metadata).
// A tenant that scribbles on its segment's header makes them.
std::vector<std::string> Implausible(const v1::ArenaStats& s) {
  std::vector<std::string> out;
  const double segment = double(s.capacity_bytes()) + double(s.metadata_bytes());
  for (const api::StatField& f : api::StatFields(v1::ArenaStats::descriptor())) {
    const std::optional<double> v = api::StatValue(s, f.field);
    if (!v) continue;
    const bool bad_count = f.stat->kind() == v1::Stat::COUNTER && *v >= kMaxCount;
    const bool bad_bytes = f.stat->kind() == v1::Stat::GAUGE && f.stat->unit() == v1::Stat::BYTES &&
                           f.field->name() != "quota_bytes" && *v > segment;
    if (bad_count || bad_bytes) out.push_back(absl::StrFormat("%s %.0f", f.field->name(), *v));
  }
  return out;
}

void Errors(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  const std::vector<std::string> bad = Implausible(s);
  if (!bad.empty())
    out.push_back({Finding::kCritical, "implausible_counters",
                   absl::StrCat("Counters that cannot be true: ", absl::StrJoin(bad, ", "),
                                ". A client scribbled on the segment's header (or the daemon "
                                "misread it); the figures above are not facts, and findings "
                                "that rest on them are left out. `shmpoolctl arena reset ",
                                ArenaIdOf(s.name()), "` gives the arena a fresh segment.")});
  auto sane = [&](const char* field) {
    for (const std::string& b : bad)
      if (b.rfind(absl::StrCat(field, " "), 0) == 0) return false;
    return true;
  };
  if (s.failed_allocs() && sane("failed_allocs"))
    out.push_back({Finding::kCritical, "failed_allocs",
                   absl::StrFormat("%d allocations failed (arena exhausted, over quota or the "
                                   "shm directory full). Capacity %s, active %s. %s",
                                   s.failed_allocs(), FormatSize(s.capacity_bytes()),
                                   FormatSize(s.active_bytes()), FailedAllocsCause(s, t))});
  if ((s.invalid_frees() || s.double_frees()) && sane("invalid_frees") && sane("double_frees"))
    out.push_back({Finding::kCritical, "bad_frees",
                   absl::StrFormat("%d invalid and %d double frees were refused: a client "
                                   "frees pointers it does not own. The segment is intact; "
                                   "find the client (run it with the abort-on-bad-free option).",
                                   s.invalid_frees(), s.double_frees())});
}

// "name (pid P) N, ..." for the pool's holders with objects out, most first (at most 3).
std::string Holders(const v1::Pool& p) {
  std::vector<v1::PoolHolder> h(p.holders().begin(), p.holders().end());
  std::sort(h.begin(), h.end(),
            [](const v1::PoolHolder& a, const v1::PoolHolder& b) { return a.held() > b.held(); });
  std::vector<std::string> out;
  for (const v1::PoolHolder& x : h)
    if (x.held() > 0 && out.size() < 3)
      out.push_back(absl::StrFormat(
          "%s (pid %d) %d", x.client_name().empty() ? "?" : x.client_name(), x.pid(), x.held()));
  return out.empty() ? "no client holds any now" : absl::StrJoin(out, ", ");
}

void PoolRanDry(const v1::Pool& p, std::vector<Finding>& out) {
  if (p.gets() == 0 || p.lowest_free() != 0) return;
  out.push_back(
      {Finding::kWarning, "pool_ran_dry",
       absl::StrFormat("Pool %s ran dry: its central stack was empty at least once, so a "
                       "thread whose cache was empty got NULL. Now %d of its %d objects are "
                       "in use and %d cached; holders: %s. Give it more objects (delete and "
                       "create it larger), or find the holder that does not put objects back.",
                       p.name(), p.in_use(), p.count(), p.cached(), Holders(p))});
}

void PoolSize(const v1::Pool& p, const DoctorThresholds& t, std::vector<Finding>& out) {
  if (p.bytes() < t.min_pool_bytes || p.count() == 0) return;
  if (p.gets() == 0) {
    out.push_back({Finding::kInfo, "pool_size",
                   absl::StrFormat("Pool %s (%d objects, %s) has never been used.", p.name(),
                                   p.count(), FormatSize(p.bytes()))});
    return;
  }
  const uint64_t peak = p.count() - std::min<uint64_t>(p.count(), p.lowest_free());
  if (double(peak) >= t.pool_peak * double(p.count())) return;
  const uint64_t suggest = std::max<uint64_t>(peak + peak / 4, 1);
  out.push_back(
      {Finding::kInfo, "pool_size",
       absl::StrFormat("Pool %s never had more than %d of its %d objects out at once (in use "
                       "or cached; %s): %d objects (a quarter above that peak) would hold it, "
                       "for about %s instead of %s.",
                       p.name(), peak, p.count(), Pct(double(peak) / double(p.count())), suggest,
                       FormatSize(p.bytes() * suggest / p.count()), FormatSize(p.bytes()))});
}

const char* SeverityName(Finding::Severity s) {
  return s == Finding::kCritical ? "critical" : s == Finding::kWarning ? "warning" : "info";
}

// When the daemon read the stats (now, if the response does not say).
absl::Time ReadTime(const v1::GetStatsResponse& stats) {
  if (!stats.has_read_time()) return absl::Now();
  return absl::FromUnixSeconds(stats.read_time().seconds()) +
         absl::Nanoseconds(stats.read_time().nanos());
}

// The findings of arena `s`, its pools' (those of `pools` under it) after its own.
std::vector<Finding> ArenaFindings(const v1::ArenaStats& s, const v1::ListPoolsResponse& pools,
                                   const DoctorThresholds& t, absl::Time now) {
  std::vector<v1::Pool> mine;
  for (const v1::Pool& p : pools.pools())
    if (p.name().rfind(s.name() + "/pools/", 0) == 0) mine.push_back(p);
  std::vector<Finding> f = Diagnose(s, t, now);
  for (Finding& x : DiagnosePools(mine, t)) f.push_back(std::move(x));
  return f;
}

}  // namespace

uint64_t PurgeableBytes(const v1::ArenaStats& s) {
  const uint64_t backed_free =
      s.free_run_bytes() - std::min(s.free_run_bytes(), s.retained_bytes());
  return backed_free + s.in_ring_bytes();
}

std::vector<Finding> Diagnose(const v1::ArenaStats& s, const DoctorThresholds& t, absl::Time now) {
  std::vector<Finding> out;
  if (s.has_quarantine()) {  // the daemon read nothing else of it
    out.push_back(
        {Finding::kCritical, "quarantined",
         absl::StrFormat("the arena is quarantined (%s): %s. The daemon no longer "
                         "reads its segment; `shmpoolctl arena reset %s` gives it a "
                         "fresh, empty generation (or delete it).",
                         s.quarantine().kind(), s.quarantine().reason(), ArenaIdOf(s.name()))});
    return out;
  }
  Errors(s, t, out);
  Quota(s, t, out);
  Fragmentation(s, t, now, out);
  EmptyClasses(s, t, out);
  Caches(s, t, out);
  Purgeable(s, t, now, out);
  DeadClients(s, out);
  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return out;
}

std::vector<Finding> DiagnosePools(const std::vector<v1::Pool>& pools, const DoctorThresholds& t) {
  std::vector<Finding> out;
  for (const v1::Pool& p : pools) {
    PoolRanDry(p, out);
    PoolSize(p, t, out);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return out;
}

std::string DoctorReport(const v1::GetStatsResponse& stats, const v1::ListPoolsResponse& pools,
                         const DoctorThresholds& t) {
  std::string out;
  for (const v1::ArenaStats& s : stats.arenas()) {
    if (!out.empty()) out += "\n";
    absl::StrAppendFormat(&out, "arena %s: %s allocated, %s active, %s resident of %s\n",
                          ArenaIdOf(s.name()), FormatSize(s.allocated_bytes()),
                          FormatSize(s.active_bytes()), FormatSize(s.resident_bytes()),
                          FormatSize(s.capacity_bytes()));
    const std::vector<Finding> f = ArenaFindings(s, pools, t, ReadTime(stats));
    if (f.empty()) out += "  Nothing to report: memory use looks healthy.\n";
    for (const Finding& x : f)
      absl::StrAppendFormat(&out, "  %s: %s\n", absl::AsciiStrToUpper(SeverityName(x.severity)),
                            x.text);
  }
  return out;
}

std::string DoctorJson(const v1::GetStatsResponse& stats, const v1::ListPoolsResponse& pools,
                       const DoctorThresholds& t) {
  std::vector<std::string> arenas;
  for (const v1::ArenaStats& s : stats.arenas()) {
    std::vector<std::string> findings;
    for (const Finding& x : ArenaFindings(s, pools, t, ReadTime(stats)))
      findings.push_back(absl::StrFormat("{\"severity\":\"%s\",\"code\":%s,\"message\":%s}",
                                         SeverityName(x.severity), JsonString(x.check),
                                         JsonString(x.text)));
    arenas.push_back(absl::StrFormat(
        "{\"name\":%s,\"allocated_bytes\":%d,\"active_bytes\":%d,\"resident_bytes\":%d,"
        "\"capacity_bytes\":%d,"
        "\"findings\":[%s]}",
        JsonString(s.name()), s.allocated_bytes(), s.active_bytes(), s.resident_bytes(),
        s.capacity_bytes(), absl::StrJoin(findings, ",")));
  }
  return absl::StrCat("{\"arenas\":[", absl::StrJoin(arenas, ","), "]}");
}

}  // namespace shmpool::ctl
