// The process-local peers' column: plain malloc/free, after proving which malloc it is.
#include "bench/src/active_allocator.h"
#include "bench/src/fail.h"
#include "bench/src/local_runner.h"
#include "bench/src/malloc_backend.h"

namespace shmpool::bench {

void RunMalloc(const std::string& name, const RunOptions& o) {
  std::string evidence;
  if (!VerifyActiveMalloc(name, &evidence))
    Fail("this binary's malloc is not " + name + " (" + evidence + ")");
  PrintActive(name, evidence);
  MallocBackend b;
  RunLocal(b, name, o);
}

}  // namespace shmpool::bench
