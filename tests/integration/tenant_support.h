// What the tenant tests (tenants_test, tenant_files_test, hostile_test) add to harness.h:
// processes run under another uid, and the worker's replies that name blocks.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace shmpool::testing {

// argv run as `uid` (and its gid, no supplementary groups) through setpriv; unchanged
// without a uid.
inline std::vector<std::string> AsUid(std::optional<uid_t> uid, std::vector<std::string> argv) {
  if (!uid) return argv;
  const std::string id = std::to_string(*uid);
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid", id,
                                  "--regid",          id,        "--clear-groups"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// The number of refs in the worker's reply "ok REF..." to alloc or pool_get, or -1 when
// the reply is anything else (an "err ...").
inline int RefsIn(const std::string& reply) {
  const std::vector<std::string> w = Words(reply);
  return !w.empty() && w[0] == "ok" ? static_cast<int>(w.size()) - 1 : -1;
}

}  // namespace shmpool::testing
