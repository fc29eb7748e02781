#include "ctl/client_tables.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ctl/table.h"
#include "google/protobuf/util/time_util.h"
#include "proto/api/size.h"

namespace shmpool::ctl {
namespace {

using api::FormatSize;

std::string SignedSize(int64_t bytes) {
  const std::string size = FormatSize(static_cast<uint64_t>(std::llabs(bytes)));
  return bytes < 0 ? "-" + size : size;
}

// The cells that say who a client is, at the start of each of its rows.
std::vector<std::string> Who(const v1::Session& s) {
  return {s.name(), s.client_name(), absl::StrCat(s.pid()), absl::StrCat(s.uid())};
}

std::vector<std::string> Row(std::vector<std::string> head, const std::vector<std::string>& rest) {
  head.insert(head.end(), rest.begin(), rest.end());
  return head;
}

}  // namespace

void PrintClients(const v1::ArenaStats& stats, std::ostream& out) {
  if (stats.clients_size() == 0) return;
  out << "\n";
  Table clients({"SESSION", "CLIENT", "PID", "UID", "GID", "STATE", "CACHES", "CACHED", "NMALLOC",
                 "NFREE", "NET_BYTES", "ATTACHED"});
  Table classes({"SESSION", "CLIENT", "PID", "UID", "CLASS", "SIZE", "NMALLOC", "NFREE", "NET",
                 "NET_BYTES", "CACHED"});
  Table pools({"SESSION", "CLIENT", "PID", "UID", "POOL", "HELD"});
  bool any_class = false, any_pool = false;
  for (const v1::ClientStats& c : stats.clients()) {
    const v1::Session& s = c.session();
    clients.Add(Row(
        Who(s),
        {absl::StrCat(s.gid()), v1::Session::State_Name(s.state()), absl::StrCat(c.thread_caches()),
         FormatSize(c.cached_bytes()), absl::StrCat(c.nmalloc()), absl::StrCat(c.nfree()),
         SignedSize(c.net_bytes()), google::protobuf::util::TimeUtil::ToString(s.attach_time())}));
    for (const v1::ClientClassStats& k : c.size_classes())
      classes.Add(
          Row(Who(s), {absl::StrCat(k.size_class()), absl::StrCat(k.size()),
                       absl::StrCat(k.nmalloc()), absl::StrCat(k.nfree()), absl::StrCat(k.net()),
                       SignedSize(k.net_bytes()), FormatSize(k.cached_bytes())}));
    const bool large = c.large_nmalloc() != 0 || c.large_nfree() != 0;
    if (large)  // page runs: no class, a row of their own
      classes.Add(
          Row(Who(s), {"large", "-", absl::StrCat(c.large_nmalloc()), absl::StrCat(c.large_nfree()),
                       absl::StrCat(static_cast<int64_t>(c.large_nmalloc()) -
                                    static_cast<int64_t>(c.large_nfree())),
                       SignedSize(c.large_net_bytes()), "-"}));
    any_class = any_class || c.size_classes_size() > 0 || large;
    for (const v1::ClientPoolStats& p : c.pools())
      pools.Add(Row(Who(s), {p.pool(), absl::StrCat(p.held())}));
    any_pool = any_pool || c.pools_size() > 0;
  }
  clients.Print(out);
  if (any_class) {
    out << "\nclients by size class (net = nmalloc - nfree: negative for a client that frees "
           "blocks others allocated)\n";
    classes.Print(out);
  }
  if (any_pool) {
    out << "\nclients by pool (held = got - put back)\n";
    pools.Print(out);
  }
}

}  // namespace shmpool::ctl
