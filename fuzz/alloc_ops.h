// The operation-sequence fuzzer's body (alloc_ops_fuzzer.cc runs it under libFuzzer,
// alloc_ops_test.cc replays the checked-in corpus in every ctest build). The input decodes
// into a sequence of operations on one arena, applied to real segments through real
// clients and to AllocModel (alloc_model.h); after every step each mapped generation must
// pass Validate(), its stats must equal the model's figures, and every live block must
// still hold the pattern written into it when it was handed out.
//
// Input: byte 0 picks the geometry (bits 0-1: 0, 1, 2 or 8 thread caches; bits 2-3: 1, 2
// or 4 MiB; bit 4: 2 ring slots instead of 64). Then each operation is one byte (op % 10
// picks the kind, op / 10 % 2 the client, A or B: two attachments of the process, with
// their own process records and thread caches) and its arguments; a missing byte reads 0.
//   0 malloc(size)          1 free(block) by the client (another's block: a cross-process
//   2 flush its cache         free through a ref)
//   3 purge (the client's Purge, or shm::Purge as the daemon runs it)
//   4 a process that allocates and frees by a plan, then dies; the reclaim the daemon
//     runs, sometimes after a first reclaimer died at a chosen step (dead_process.h)
//   5 reset: the next generation, as the daemon makes it (the old one retired, mapped)
//   6 the client follows a reset (Generation())      7 it releases retired generations
//   8 a free that must be refused (a freed block, a block's interior, a pointer outside)
//   9 up to 31 mallocs of one size (reaches exhaustion and the reclaim before failing)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace shmpool::fuzz {

// Runs the input; "" when every step agreed, else the first disagreement in words.
std::string RunAllocOps(const uint8_t* data, size_t size);

}  // namespace shmpool::fuzz
