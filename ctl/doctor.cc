#include "ctl/doctor.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ctl/json.h"
#include "proto/api/size.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

std::string Pct(double r) { return absl::StrFormat("%.0f%%", 100 * r); }

std::string IdOf(const std::string& name) {
  return name.rfind("arenas/", 0) == 0 ? name.substr(7) : name;
}

void Fragmentation(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  const uint64_t slab_active = s.active() - std::min(s.active(), s.large_allocated());
  if (slab_active < t.min_active) return;
  const double frag = 1.0 - double(s.allocated() - std::min(s.allocated(), s.large_allocated())) /
                                double(slab_active);
  if (frag <= t.fragmentation) return;
  out.push_back(
      {Finding::kWarning, "fragmentation",
       absl::StrFormat("High external fragmentation: %s of the %s of slabs hold no live block "
                       "(%s free inside slabs, %s in thread caches, %s in transfer rings). "
                       "Slabs are refilled before new ones are made, so allocating more of the "
                       "same sizes reuses this space; if the workload shrank for good, "
                       "`shmpoolctl purge %s` returns the slabs that are wholly free and the "
                       "pages inside slabs that hold no live block.",
                       Pct(frag), FormatSize(slab_active), FormatSize(s.free_in_slabs()),
                       FormatSize(s.cached()), FormatSize(s.in_ring()), IdOf(s.name()))});
}

void EmptyClasses(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  std::vector<std::string> names;
  uint64_t wasted = 0;
  for (const v1::SizeClassStats& c : s.size_classes()) {
    if (c.active() < t.min_class_active) continue;
    const double fill = double(c.allocated()) / double(c.active());
    if (fill >= t.class_fill) continue;
    names.push_back(absl::StrFormat("%d B (%s of %s used, %d slabs)", c.size(), Pct(fill),
                                    FormatSize(c.active()), c.nslabs()));
    wasted += c.active() - std::min(c.active(), c.allocated());
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

void Quota(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  if (s.quota() == 0) return;
  const uint64_t used = s.active() + s.cached() + s.pool_bytes();
  const double share = double(used) / double(s.quota());
  if (share < t.quota) return;
  out.push_back(
      {share >= 1.0 ? Finding::kCritical : Finding::kWarning, "quota",
       absl::StrFormat("Quota nearly reached: %s in use (active %s + cached %s + pools %s) of "
                       "a %s quota (%s). Free or purge memory, or raise the quota.",
                       FormatSize(used), FormatSize(s.active()), FormatSize(s.cached()),
                       FormatSize(s.pool_bytes()), FormatSize(s.quota()), Pct(share))});
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
                       s.attached_procs(), sessions, orphans, FormatSize(s.cached()))});
}

void Caches(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  const uint64_t held = s.cached() + s.in_ring();
  if (held < t.min_cached || double(held) <= t.cache_share * double(s.allocated())) return;
  out.push_back(
      {Finding::kWarning, "caches",
       absl::StrFormat("Caches hoard memory: %s of free blocks sit in %d thread "
                       "caches (%s) and transfer rings (%s), against %s allocated. "
                       "Clients return theirs with shmpool_purge(); "
                       "`shmpoolctl purge %s` drains the rings.",
                       FormatSize(held), s.thread_caches(), FormatSize(s.cached()),
                       FormatSize(s.in_ring()), FormatSize(s.allocated()), IdOf(s.name()))});
}

void Purgeable(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  const uint64_t p = PurgeableBytes(s);
  if (p < t.min_purgeable || double(p) <= t.purgeable_share * double(s.resident())) return;
  out.push_back({Finding::kWarning, "purgeable",
                 absl::StrFormat("Too much resident memory is free: a purge would return about "
                                 "%s of the %s resident (%s). Run `shmpoolctl purge %s`, or set "
                                 "a decay time (decay_ms in the arena's config) so the daemon "
                                 "does it in the background.",
                                 FormatSize(p), FormatSize(s.resident()),
                                 Pct(double(p) / double(std::max<uint64_t>(1, s.resident()))),
                                 IdOf(s.name()))});
}

// Why allocations failed: a full arena, or capacity stranded as free blocks in classes
// (reclaimable) that the failing sizes could not use.
std::string FailedAllocsCause(const v1::ArenaStats& s, const DoctorThresholds& t) {
  if (double(s.reclaimable()) < t.stranded * double(s.capacity()))
    return "The arena is full: little is free in its classes.";
  return absl::StrFormat(
      "%s is free in size classes (cached %s, in transfer rings %s, inside slabs %s): "
      "capacity stranded in other sizes or in idle thread caches, not a full arena. A "
      "failing allocation drains the rings and wholly free slabs first; thread caches give "
      "back only when their threads next allocate or free past their cache, so long-idle "
      "threads with full caches keep it.",
      FormatSize(s.reclaimable()), FormatSize(s.cached()), FormatSize(s.in_ring()),
      FormatSize(s.free_in_slabs() + s.parked()));
}

void Errors(const v1::ArenaStats& s, const DoctorThresholds& t, std::vector<Finding>& out) {
  if (s.failed_allocs())
    out.push_back({Finding::kCritical, "failed_allocs",
                   absl::StrFormat("%d allocations failed (arena exhausted, over quota or the "
                                   "shm directory full). Capacity %s, active %s. %s",
                                   s.failed_allocs(), FormatSize(s.capacity()),
                                   FormatSize(s.active()), FailedAllocsCause(s, t))});
  if (s.invalid_frees() || s.double_frees())
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

// The findings of arena `s`, its pools' (those of `pools` under it) after its own.
std::vector<Finding> ArenaFindings(const v1::ArenaStats& s, const v1::ListPoolsResponse& pools,
                                   const DoctorThresholds& t) {
  std::vector<v1::Pool> mine;
  for (const v1::Pool& p : pools.pools())
    if (p.name().rfind(s.name() + "/pools/", 0) == 0) mine.push_back(p);
  std::vector<Finding> f = Diagnose(s, t);
  for (Finding& x : DiagnosePools(mine, t)) f.push_back(std::move(x));
  return f;
}

}  // namespace

uint64_t PurgeableBytes(const v1::ArenaStats& s) {
  const uint64_t backed_free = s.free_run_bytes() - std::min(s.free_run_bytes(), s.retained());
  return backed_free + s.in_ring();
}

std::vector<Finding> Diagnose(const v1::ArenaStats& s, const DoctorThresholds& t) {
  std::vector<Finding> out;
  if (s.has_quarantine()) {  // the daemon read nothing else of it
    out.push_back(
        {Finding::kCritical, "quarantined",
         absl::StrFormat("the arena is quarantined (%s): %s. The daemon no longer "
                         "reads its segment; `shmpoolctl arena reset %s` gives it a "
                         "fresh, empty generation (or delete it).",
                         s.quarantine().kind(), s.quarantine().reason(), IdOf(s.name()))});
    return out;
  }
  Errors(s, t, out);
  Quota(s, t, out);
  Fragmentation(s, t, out);
  EmptyClasses(s, t, out);
  Caches(s, t, out);
  Purgeable(s, t, out);
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
                          IdOf(s.name()), FormatSize(s.allocated()), FormatSize(s.active()),
                          FormatSize(s.resident()), FormatSize(s.capacity()));
    const std::vector<Finding> f = ArenaFindings(s, pools, t);
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
    for (const Finding& x : ArenaFindings(s, pools, t))
      findings.push_back(absl::StrFormat("{\"severity\":\"%s\",\"code\":%s,\"message\":%s}",
                                         SeverityName(x.severity), JsonString(x.check),
                                         JsonString(x.text)));
    arenas.push_back(absl::StrFormat(
        "{\"name\":%s,\"allocated\":%d,\"active\":%d,\"resident\":%d,\"capacity\":%d,"
        "\"findings\":[%s]}",
        JsonString(s.name()), s.allocated(), s.active(), s.resident(), s.capacity(),
        absl::StrJoin(findings, ",")));
  }
  return absl::StrCat("{\"arenas\":[", absl::StrJoin(arenas, ","), "]}");
}

}  // namespace shmpool::ctl
