// AllocModel: what the allocator must agree with after every step of the operation-sequence
// fuzzer (alloc_ops.h), kept without looking at the allocator.
//
// It holds the live blocks of every generation of one arena: (generation, offset in the
// segment, requested size, usable size, the seed of the pattern written into it), and per
// generation the figures its stats must show: allocated and large bytes (usable sizes of
// the live blocks), cumulative mallocs, frees and requested bytes, and refused frees.
// INVARIANTS: no two live blocks of a generation overlap (Add refuses a block that would,
// which is the "handed out twice" finding); Counts(g).allocated == the usable sizes of g's
// live blocks; a live block of g is in `extents_` under (g, offset) and in `blocks_` once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace shmpool::fuzz {

struct ModelBlock {
  uint64_t gen = 0;
  uint64_t off = 0;  // in the segment
  uint64_t size = 0;
  uint64_t usable = 0;
  uint64_t seed = 0;
};

// What CollectStats of a generation must say (counts of the model's own steps).
struct ModelCounts {
  uint64_t allocated = 0;  // usable bytes of live blocks
  uint64_t large = 0;      // the part of `allocated` in large blocks
  uint64_t nmalloc = 0;
  uint64_t nfree = 0;
  uint64_t requested = 0;
  uint64_t refused = 0;  // invalid and double frees
  uint64_t failed = 0;   // mallocs that returned nullptr
  // How far the stats' nfree may stray from `nfree`: a reclaimer that dies between clearing
  // a bin and counting it misses or repeats that chain's count (recovery.h, known gaps).
  uint64_t nfree_slack = 0;
};

// The block size behind a request of `size` bytes: its class's, or whole pages.
uint64_t UsableSizeOf(uint64_t size);
bool IsLarge(uint64_t size);

class AllocModel {
 public:
  static constexpr uint64_t kMaxChain = 64;  // blocks: the largest batch of any class

  // Records a block handed out by a malloc of `b.size` bytes. False (and nothing recorded)
  // when it overlaps a live block of its generation.
  bool Add(const ModelBlock& b);
  // Removes live block `i` after a free that was applied.
  ModelBlock Remove(size_t i);
  // Counts a free refused by generation `gen`, and a malloc it failed.
  void Refused(uint64_t gen) { ++counts_[gen].refused; }
  void Failed(uint64_t gen, uint64_t n = 1) { counts_[gen].failed += n; }
  // A reclaimer of `gen` died mid-way: its nfree may stray by one chain.
  void ReclaimerDied(uint64_t gen) { counts_[gen].nfree_slack += kMaxChain; }
  // Counts `blocks` mallocs of `requested` bytes in all that were freed again unseen (by a
  // process that reported only their number).
  void Transient(uint64_t gen, uint64_t blocks, uint64_t requested);
  // Forgets a generation nobody maps any more.
  void DropGeneration(uint64_t gen);

  size_t size() const { return blocks_.size(); }
  const ModelBlock& at(size_t i) const { return blocks_[i]; }
  // The live block of `gen` that starts at `off`, or nullptr.
  const ModelBlock* StartingAt(uint64_t gen, uint64_t off) const;
  const ModelCounts& Counts(uint64_t gen) { return counts_[gen]; }

 private:
  std::vector<ModelBlock> blocks_;
  std::map<std::pair<uint64_t, uint64_t>, size_t> extents_;  // (gen, off) -> index in blocks_
  std::map<uint64_t, ModelCounts> counts_;
};

// The bytes a block of `seed` holds: written when it is handed out, checked until it is
// freed.
void FillPattern(char* p, uint64_t size, uint64_t seed);
// The offset of the first byte that differs, or `size` when all agree.
uint64_t CheckPattern(const char* p, uint64_t size, uint64_t seed);

}  // namespace shmpool::fuzz
