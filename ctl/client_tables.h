// shmpoolctl stats: the tables of an arena's clients (attribution), under the
// arena's own tables: one row per client (who: session, name, pid, uid; what it holds in
// total), then one per client and size class it used, then one per client and pool.
// `net` is nmalloc - nfree: negative for a client that frees blocks others allocated.
#pragma once

#include <ostream>

#include "shmpool/v1/stats.pb.h"

namespace shmpool::ctl {

void PrintClients(const v1::ArenaStats& stats, std::ostream& out);

}  // namespace shmpool::ctl
