#include "server/rpc/metrics_text.h"

#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shmpool::server {
namespace {

using Arena = v1::ArenaStats;
using Class = v1::SizeClassStats;
using Client = v1::ClientStats;
using ClientClass = v1::ClientClassStats;
using ClientPool = v1::ClientPoolStats;

std::string IdOf(const std::string& name) {
  return name.rfind("arenas/", 0) == 0 ? name.substr(7) : name;
}

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

std::string ClassLabels(uint32_t cls, uint32_t size) {
  return absl::StrCat(",class=\"", cls, "\",size=\"", size, "\"");
}

template <typename T>
struct Family {
  const char* name;
  const char* type;  // "gauge" or "counter"
  const char* help;
  std::function<double(const T&)> value;
};

// Each family is written whole (HELP, TYPE, then one sample per item), as the format asks.
template <typename T, typename Items, typename Labels>
void Write(std::string& out, const std::vector<Family<T>>& families, const Items& items,
           const Labels& labels) {
  for (const Family<T>& f : families) {
    absl::StrAppend(&out, "# HELP ", f.name, " ", f.help, "\n# TYPE ", f.name, " ", f.type, "\n");
    for (const auto& [item, label] : items)
      absl::StrAppend(&out, f.name, "{", labels(*item, label), "} ", Num(f.value(*item)), "\n");
  }
}

const std::vector<Family<Arena>>& ArenaFamilies() {
  static const auto* f = new std::vector<Family<Arena>>{
      {"shmpool_arena_capacity_bytes", "gauge", "Bytes of data pages the arena can hold.",
       [](const Arena& a) { return double(a.capacity()); }},
      {"shmpool_arena_quota_bytes", "gauge", "The arena's quota in bytes (0: none).",
       [](const Arena& a) { return double(a.quota()); }},
      {"shmpool_arena_allocated_bytes", "gauge",
       "Bytes in blocks handed out and not yet freed, at class size.",
       [](const Arena& a) { return double(a.allocated()); }},
      {"shmpool_arena_active_bytes", "gauge", "Bytes of slabs and large runs in use.",
       [](const Arena& a) { return double(a.active()); }},
      {"shmpool_arena_resident_bytes", "gauge", "Bytes physically backed (st_blocks).",
       [](const Arena& a) { return double(a.resident()); }},
      {"shmpool_arena_cached_bytes", "gauge", "Bytes of free blocks in thread caches.",
       [](const Arena& a) { return double(a.cached()); }},
      {"shmpool_arena_in_ring_bytes", "gauge", "Bytes of free blocks in transfer rings.",
       [](const Arena& a) { return double(a.in_ring()); }},
      {"shmpool_arena_free_in_slabs_bytes", "gauge", "Bytes of free blocks inside slabs.",
       [](const Arena& a) { return double(a.free_in_slabs()); }},
      {"shmpool_arena_free_run_bytes", "gauge", "Bytes of free page runs (backed or not).",
       [](const Arena& a) { return double(a.free_run_bytes()); }},
      {"shmpool_arena_parked_bytes", "gauge",
       "Bytes of free blocks on slab pages that purge gave back (part of retained).",
       [](const Arena& a) { return double(a.parked()); }},
      {"shmpool_arena_reclaimable_bytes", "gauge",
       "Bytes of free blocks in classes an allocation takes back before it fails.",
       [](const Arena& a) { return double(a.reclaimable()); }},
      {"shmpool_arena_retained_bytes", "gauge", "Bytes purged and reusable (free, unbacked).",
       [](const Arena& a) { return double(a.retained()); }},
      {"shmpool_arena_metadata_bytes", "gauge", "Bytes of the segment before its data pages.",
       [](const Arena& a) { return double(a.metadata()); }},
      {"shmpool_arena_pool_bytes", "gauge", "Bytes of the arena's object pools.",
       [](const Arena& a) { return double(a.pool_bytes()); }},
      {"shmpool_arena_large_allocated_bytes", "gauge", "Bytes in large runs handed out.",
       [](const Arena& a) { return double(a.large_allocated()); }},
      {"shmpool_arena_slabs", "gauge", "Slabs of every size class.",
       [](const Arena& a) { return double(a.nslabs()); }},
      {"shmpool_arena_attached_processes", "gauge", "Live process records in the segment.",
       [](const Arena& a) { return double(a.attached_procs()); }},
      {"shmpool_arena_thread_caches", "gauge", "Thread caches held in the segment.",
       [](const Arena& a) { return double(a.thread_caches()); }},
      {"shmpool_arena_external_fragmentation_ratio", "gauge", "1 - allocated / active.",
       [](const Arena& a) { return a.external_fragmentation(); }},
      {"shmpool_arena_internal_fragmentation_ratio", "gauge",
       "1 - requested / handed out, over allocations since the arena started.",
       [](const Arena& a) { return a.internal_fragmentation(); }},
      {"shmpool_arena_rss_ratio", "gauge", "resident / allocated.",
       [](const Arena& a) { return a.rss_ratio(); }},
      {"shmpool_arena_allocations_total", "counter", "Blocks and runs handed out.",
       [](const Arena& a) { return double(a.nmalloc()); }},
      {"shmpool_arena_frees_total", "counter", "Blocks and runs freed.",
       [](const Arena& a) { return double(a.nfree()); }},
      {"shmpool_arena_large_allocations_total", "counter", "Large runs handed out.",
       [](const Arena& a) { return double(a.large_nmalloc()); }},
      {"shmpool_arena_requested_bytes_total", "counter", "Bytes asked for by allocations.",
       [](const Arena& a) { return double(a.requested()); }},
      {"shmpool_arena_handed_out_bytes_total", "counter", "Bytes handed out (at class size).",
       [](const Arena& a) { return double(a.handed_out()); }},
      {"shmpool_arena_invalid_frees_total", "counter", "Frees of pointers that are no block.",
       [](const Arena& a) { return double(a.invalid_frees()); }},
      {"shmpool_arena_double_frees_total", "counter", "Frees of blocks already free.",
       [](const Arena& a) { return double(a.double_frees()); }},
      {"shmpool_arena_failed_allocations_total", "counter",
       "Allocations refused: exhaustion, quota or a full file system.",
       [](const Arena& a) { return double(a.failed_allocs()); }},
      {"shmpool_arena_purged_bytes_total", "counter", "Bytes released to the OS by purges.",
       [](const Arena& a) { return double(a.purged()); }},
      {"shmpool_arena_purge_seconds_total", "counter", "Time spent purging.",
       [](const Arena& a) {
         return double(a.purge_time().seconds()) + a.purge_time().nanos() / 1e9;
       }},
  };
  return *f;
}

// Purges of one arena for one reason.
struct PurgeCount {
  uint64_t n;
};
const std::vector<Family<PurgeCount>>& PurgeFamilies() {
  static const auto* f = new std::vector<Family<PurgeCount>>{
      {"shmpool_arena_purges_total", "counter",
       "Purges run, by reason: on_demand (RPC, shmpoolctl, client), decay, pressure.",
       [](const PurgeCount& p) { return double(p.n); }},
  };
  return *f;
}

const std::vector<Family<Class>>& ClassFamilies() {
  static const auto* f = new std::vector<Family<Class>>{
      {"shmpool_class_allocated_bytes", "gauge", "Bytes handed out in this size class.",
       [](const Class& c) { return double(c.allocated()); }},
      {"shmpool_class_active_bytes", "gauge", "Bytes of this class's slabs.",
       [](const Class& c) { return double(c.active()); }},
      {"shmpool_class_cached_bytes", "gauge", "Bytes of this class in thread caches.",
       [](const Class& c) { return double(c.cached()); }},
      {"shmpool_class_in_ring_bytes", "gauge", "Bytes of this class in its transfer ring.",
       [](const Class& c) { return double(c.in_ring()); }},
      {"shmpool_class_free_in_slabs_bytes", "gauge", "Bytes free inside this class's slabs.",
       [](const Class& c) { return double(c.free_in_slabs()); }},
      {"shmpool_class_parked_bytes", "gauge",
       "Bytes of this class's free blocks on slab pages that purge gave back.",
       [](const Class& c) { return double(c.parked()); }},
      {"shmpool_class_slabs", "gauge", "Slabs of this class.",
       [](const Class& c) { return double(c.nslabs()); }},
      {"shmpool_class_external_fragmentation_ratio", "gauge", "1 - allocated / active.",
       [](const Class& c) { return c.external_fragmentation(); }},
      {"shmpool_class_allocations_total", "counter", "Blocks of this class handed out.",
       [](const Class& c) { return double(c.nmalloc()); }},
      {"shmpool_class_frees_total", "counter", "Blocks of this class freed.",
       [](const Class& c) { return double(c.nfree()); }},
  };
  return *f;
}

const std::vector<Family<Client>>& ClientFamilies() {
  static const auto* f = new std::vector<Family<Client>>{
      {"shmpool_client_thread_caches", "gauge", "Thread caches the client's process holds.",
       [](const Client& c) { return double(c.thread_caches()); }},
      {"shmpool_client_cached_bytes", "gauge", "Bytes in the client's thread caches.",
       [](const Client& c) { return double(c.cached()); }},
      // Gauges, not counters: they belong to the session (a new client on the same pid
      // starts from zero).
      {"shmpool_client_allocations", "gauge",
       "Blocks of size classes the client allocated since it attached.",
       [](const Client& c) { return double(c.nmalloc()); }},
      {"shmpool_client_frees", "gauge",
       "Blocks of size classes the client freed since it attached.",
       [](const Client& c) { return double(c.nfree()); }},
      {"shmpool_client_large_allocations", "gauge",
       "Large blocks (page runs) the client allocated since it attached.",
       [](const Client& c) { return double(c.large_nmalloc()); }},
      {"shmpool_client_large_frees", "gauge",
       "Large blocks (page runs) the client freed since it attached.",
       [](const Client& c) { return double(c.large_nfree()); }},
      {"shmpool_client_net_bytes", "gauge",
       "Bytes the client allocated minus bytes it freed, large blocks included (negative for "
       "a consumer that frees what others allocated).",
       [](const Client& c) { return double(c.net_bytes()); }},
  };
  return *f;
}

const std::vector<Family<ClientClass>>& ClientClassFamilies() {
  static const auto* f = new std::vector<Family<ClientClass>>{
      {"shmpool_client_class_net_blocks", "gauge",
       "Blocks of this class the client allocated minus blocks it freed.",
       [](const ClientClass& c) { return double(c.net()); }},
      {"shmpool_client_class_cached_bytes", "gauge",
       "Bytes of this class in the client's thread caches.",
       [](const ClientClass& c) { return double(c.cached()); }},
  };
  return *f;
}

const std::vector<Family<ClientPool>>& ClientPoolFamilies() {
  static const auto* f = new std::vector<Family<ClientPool>>{
      {"shmpool_client_pool_held_objects", "gauge",
       "Objects of the pool the client got minus objects it put back.",
       [](const ClientPool& p) { return double(p.held()); }},
  };
  return *f;
}

const std::vector<Family<Arena>>& QuarantineFamilies() {
  static const auto* f = new std::vector<Family<Arena>>{
      {"shmpool_arena_quarantined", "gauge",
       "1 for an arena whose segment the daemon stopped trusting (reason: corrupt, "
       "lock_timeout, bus_error); it has no other series until reset or deleted.",
       [](const Arena&) { return 1.0; }},
  };
  return *f;
}

}  // namespace

std::string EscapeLabel(const std::string& value) {
  std::string out;
  for (char ch : value) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '"')
      out += "\\\"";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

std::string FormatMetrics(const v1::GetStatsResponse& stats) {
  std::string out;
  std::vector<std::pair<const Arena*, std::string>> arenas;
  std::vector<std::pair<const Class*, std::string>> classes;
  std::vector<std::pair<const Client*, std::string>> clients;
  std::vector<std::pair<const ClientClass*, std::string>> client_classes;
  std::vector<std::pair<const ClientPool*, std::string>> client_pools;
  std::vector<PurgeCount> purge_counts;
  purge_counts.reserve(3 * stats.arenas_size());  // stable: `purges` points into it
  std::vector<std::pair<const PurgeCount*, std::string>> purges;
  std::vector<std::pair<const Arena*, std::string>> quarantined;
  for (const Arena& a : stats.arenas()) {
    const std::string arena = absl::StrCat("arena=\"", EscapeLabel(IdOf(a.name())), "\"");
    if (a.has_quarantine()) {  // nothing of its segment was read
      quarantined.emplace_back(
          &a, absl::StrCat(arena, ",reason=\"", EscapeLabel(a.quarantine().kind()), "\""));
      continue;
    }
    arenas.emplace_back(&a, arena);
    for (const auto& [reason, n] :
         {std::pair{"on_demand", a.purges_on_demand()}, std::pair{"decay", a.purges_decay()},
          std::pair{"pressure", a.purges_pressure()}}) {
      purge_counts.push_back({n});
      purges.emplace_back(&purge_counts.back(), absl::StrCat(arena, ",reason=\"", reason, "\""));
    }
    for (const Class& c : a.size_classes())
      classes.emplace_back(&c, absl::StrCat(arena, ClassLabels(c.size_class(), c.size())));
    for (const Client& c : a.clients()) {
      const v1::Session& s = c.session();
      const std::string client = absl::StrCat(arena, ",session=\"", EscapeLabel(s.name()),
                                              "\",client=\"", EscapeLabel(s.client_name()),
                                              "\",pid=\"", s.pid(), "\",uid=\"", s.uid(), "\"");
      clients.emplace_back(&c, client);
      for (const ClientClass& k : c.size_classes())
        client_classes.emplace_back(&k,
                                    absl::StrCat(client, ClassLabels(k.size_class(), k.size())));
      for (const ClientPool& p : c.pools())
        client_pools.emplace_back(&p,
                                  absl::StrCat(client, ",pool=\"", EscapeLabel(p.pool()), "\""));
    }
  }
  auto labels = [](const auto&, const std::string& l) { return l; };
  Write(out, ArenaFamilies(), arenas, labels);
  Write(out, PurgeFamilies(), purges, labels);
  Write(out, ClassFamilies(), classes, labels);
  Write(out, ClientFamilies(), clients, labels);
  Write(out, ClientClassFamilies(), client_classes, labels);
  Write(out, ClientPoolFamilies(), client_pools, labels);
  Write(out, QuarantineFamilies(), quarantined, labels);
  return out;
}

}  // namespace shmpool::server
