#include "server/rpc/metrics_text.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "proto/stat_fields.h"

namespace shmpool::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::Message;

std::string IdOf(const std::string& name) {
  return name.rfind("arenas/", 0) == 0 ? name.substr(7) : name;
}

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

std::string ClassLabels(uint32_t cls, uint32_t size) {
  return absl::StrCat(",class=\"", cls, "\",size=\"", size, "\"");
}

// One message of a family's samples with its labels (`arena="..."`, ...).
struct Item {
  const Message* message;
  std::string labels;
};

// The families of the output in the order they are first declared, each with its samples:
// every declared family is written (HELP and TYPE) even without a sample, as the dashboard
// check reads the names from them.
class Exposition {
 public:
  // A family for every declared metric of `d`, and a sample of each for every item with a
  // value (an unset ratio has none).
  void Add(const Descriptor* d, const std::vector<Item>& items) {
    for (const api::StatField& f : api::StatFields(d)) {
      if (f.stat->metric().empty()) continue;
      Family& fam = Get(f.stat->metric(), api::KindName(f.stat->kind()), f.stat->help());
      std::string extra;
      if (!f.stat->label().empty()) {
        const std::pair<std::string, std::string> kv = absl::StrSplit(f.stat->label(), '=');
        extra = absl::StrCat(",", kv.first, "=\"", EscapeLabel(kv.second), "\"");
      }
      for (const Item& item : items)
        if (std::optional<double> v = api::StatValue(*item.message, f.field))
          absl::StrAppend(&fam.samples, f.stat->metric(), "{", item.labels, extra, "} ", Num(*v),
                          "\n");
    }
  }
  // A family of its own (not a stats field), with its samples already formatted.
  void AddFamily(const std::string& name, const char* type, const char* help,
                 const std::string& samples) {
    Get(name, type, help).samples += samples;
  }
  std::string Text() const {
    std::string out;
    for (const std::string& name : order_) {
      const Family& f = families_.at(name);
      absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", f.type, "\n",
                      f.samples);
    }
    return out;
  }

 private:
  struct Family {
    std::string type, help, samples;
  };
  Family& Get(const std::string& name, const char* type, const std::string& help) {
    auto [it, fresh] = families_.try_emplace(name, Family{type, help, ""});
    if (fresh) order_.push_back(name);
    return it->second;
  }
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// What the clients of one name in one arena hold and did, summed over their sessions: the
// per-client series are keyed by the name a client gives at attach (stable across restarts
// and pids), so their number is bounded by the names in use.
struct ClientGroup {
  v1::ClientStats sum;
  std::map<std::pair<uint32_t, uint32_t>, v1::ClientClassStats> classes;  // (class, size)
  std::map<std::string, v1::ClientPoolStats> pools;
};

// Adds every declared numeric field of `from` into `to` (same message type).
void AddInto(const Message& from, Message* to) {
  const auto* r = to->GetReflection();
  for (const api::StatField& f : api::StatFields(from.GetDescriptor())) {
    using FD = google::protobuf::FieldDescriptor;
    switch (f.field->cpp_type()) {
      case FD::CPPTYPE_UINT64:
        r->SetUInt64(to, f.field, r->GetUInt64(*to, f.field) + r->GetUInt64(from, f.field));
        break;
      case FD::CPPTYPE_UINT32:
        r->SetUInt32(to, f.field, r->GetUInt32(*to, f.field) + r->GetUInt32(from, f.field));
        break;
      case FD::CPPTYPE_INT64:
        r->SetInt64(to, f.field, r->GetInt64(*to, f.field) + r->GetInt64(from, f.field));
        break;
      default:
        break;
    }
  }
}

std::map<std::string, ClientGroup> GroupClients(const v1::ArenaStats& a) {
  std::map<std::string, ClientGroup> groups;
  for (const v1::ClientStats& c : a.clients()) {
    ClientGroup& g = groups[c.session().client_name()];
    AddInto(c, &g.sum);
    for (const v1::ClientClassStats& k : c.size_classes()) {
      v1::ClientClassStats& s = g.classes[{k.size_class(), k.size()}];
      s.set_size_class(k.size_class());
      s.set_size(k.size());
      AddInto(k, &s);
    }
    for (const v1::ClientPoolStats& p : c.pools()) {
      v1::ClientPoolStats& s = g.pools[p.pool()];
      s.set_pool(p.pool());
      AddInto(p, &s);
    }
  }
  return groups;
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

std::string FormatMetrics(const v1::GetStatsResponse& stats, const MetricsOptions& options) {
  std::vector<Item> arenas, classes, clients, client_classes, client_pools;
  std::string quarantined;
  // The grouped clients of every arena, kept while their items point into them.
  std::vector<std::map<std::string, ClientGroup>> groups;
  groups.reserve(stats.arenas_size());
  for (const v1::ArenaStats& a : stats.arenas()) {
    const std::string arena = absl::StrCat("arena=\"", EscapeLabel(IdOf(a.name())), "\"");
    if (a.has_quarantine()) {  // nothing of its segment was read
      absl::StrAppend(&quarantined, "shmpool_arena_quarantined{", arena, ",reason=\"",
                      EscapeLabel(a.quarantine().kind()), "\"} 1\n");
      continue;
    }
    arenas.push_back({&a, arena});
    for (const v1::SizeClassStats& c : a.size_classes())
      classes.push_back({&c, absl::StrCat(arena, ClassLabels(c.size_class(), c.size()))});
    if (!options.per_client) continue;
    for (const auto& [name, g] : groups.emplace_back(GroupClients(a))) {
      const std::string client = absl::StrCat(arena, ",client=\"", EscapeLabel(name), "\"");
      clients.push_back({&g.sum, client});
      for (const auto& [key, k] : g.classes)
        client_classes.push_back({&k, absl::StrCat(client, ClassLabels(key.first, key.second))});
      for (const auto& [pool, p] : g.pools)
        client_pools.push_back({&p, absl::StrCat(client, ",pool=\"", EscapeLabel(pool), "\"")});
    }
  }
  Exposition e;
  e.AddFamily(
      "shmpool_build_info", "gauge",
      "1, labelled with the version of the shmpoold that serves these metrics.",
      absl::StrCat("shmpool_build_info{version=\"", EscapeLabel(options.version), "\"} 1\n"));
  e.Add(v1::ArenaStats::descriptor(), arenas);
  e.Add(v1::SizeClassStats::descriptor(), classes);
  e.Add(v1::ClientStats::descriptor(), clients);
  e.Add(v1::ClientClassStats::descriptor(), client_classes);
  e.Add(v1::ClientPoolStats::descriptor(), client_pools);
  e.AddFamily("shmpool_arena_quarantined", "gauge",
              "1 for an arena whose segment the daemon stopped trusting (reason: corrupt, "
              "lock_timeout, bus_error); it has no other series until reset or deleted.",
              quarantined);
  return e.Text();
}

}  // namespace shmpool::server
