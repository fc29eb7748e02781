// Proof that a benchmark binary runs on the malloc it claims to. The process-local peers
// are separate binaries, each linked against one allocator library (CMakeLists.txt); a
// wrong link order or a missing library would silently measure glibc instead. This looks
// at the running process: which shared object defines the `malloc` symbol that calls
// resolve to, whether the allocator's own entry points exist (mallctl, tc_version,
// mi_version), and whether a fresh malloc() block is owned by that allocator.
#pragma once

#include <string>

namespace shmpool::bench {

// Returns true when the process's malloc is `expected` ("glibc", "jemalloc", "tcmalloc"
// or "mimalloc"); `evidence` says what was checked (or what did not match).
bool VerifyActiveMalloc(const std::string& expected, std::string* evidence);

}  // namespace shmpool::bench
