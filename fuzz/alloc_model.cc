#include "fuzz/alloc_model.h"

#include <cstring>

#include "shm/size_class.h"

namespace shmpool::fuzz {

bool IsLarge(uint64_t size) { return size > shm::kMaxSmallSize; }

uint64_t UsableSizeOf(uint64_t size) {
  if (IsLarge(size)) return (size + shm::kPageSize - 1) / shm::kPageSize * shm::kPageSize;
  return shm::Class(shm::ClassOf(size)).size;
}

bool AllocModel::Add(const ModelBlock& b) {
  const auto key = std::make_pair(b.gen, b.off);
  auto next = extents_.lower_bound(key);
  if (next != extents_.end() && next->first.first == b.gen && next->first.second < b.off + b.usable)
    return false;
  if (next != extents_.begin()) {
    const ModelBlock& prev = blocks_[std::prev(next)->second];
    if (prev.gen == b.gen && prev.off + prev.usable > b.off) return false;
  }
  extents_.emplace(key, blocks_.size());
  blocks_.push_back(b);
  ModelCounts& c = counts_[b.gen];
  c.allocated += b.usable;
  if (IsLarge(b.size)) c.large += b.usable;
  ++c.nmalloc;
  c.requested += b.size;
  return true;
}

ModelBlock AllocModel::Remove(size_t i) {
  const ModelBlock b = blocks_[i];
  extents_.erase({b.gen, b.off});
  if (i + 1 != blocks_.size()) {  // the last block takes its place
    blocks_[i] = blocks_.back();
    extents_[{blocks_[i].gen, blocks_[i].off}] = i;
  }
  blocks_.pop_back();
  ModelCounts& c = counts_[b.gen];
  c.allocated -= b.usable;
  if (IsLarge(b.size)) c.large -= b.usable;
  ++c.nfree;
  return b;
}

void AllocModel::Transient(uint64_t gen, uint64_t blocks, uint64_t requested) {
  ModelCounts& c = counts_[gen];
  c.nmalloc += blocks;
  c.nfree += blocks;
  c.requested += requested;
}

void AllocModel::DropGeneration(uint64_t gen) {
  for (size_t i = blocks_.size(); i-- > 0;)
    if (blocks_[i].gen == gen) Remove(i);
  counts_.erase(gen);
}

const ModelBlock* AllocModel::StartingAt(uint64_t gen, uint64_t off) const {
  auto it = extents_.find({gen, off});
  return it == extents_.end() ? nullptr : &blocks_[it->second];
}

namespace {

// Word i of the pattern of `seed`: distinct across blocks and across positions in one, and
// one add per word to check.
uint64_t Word(uint64_t seed, uint64_t i) { return seed * 0x9e3779b97f4a7c15ull + i; }

}  // namespace

void FillPattern(char* p, uint64_t size, uint64_t seed) {
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t w = Word(seed, i / 8);
    std::memcpy(p + i, &w, size - i < 8 ? size - i : 8);
  }
}

uint64_t CheckPattern(const char* p, uint64_t size, uint64_t seed) {
  // One pass without a branch per word (the fuzzer checks every live block at every step),
  // then a search for the byte only when something differs.
  uint64_t diff = 0;
  const uint64_t words = size / 8;
  for (uint64_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    diff |= w ^ Word(seed, i);
  }
  const uint64_t tail = Word(seed, words);
  diff |= static_cast<uint64_t>(std::memcmp(p + 8 * words, &tail, size % 8) != 0);
  if (diff == 0) return size;
  for (uint64_t i = 0;; ++i) {
    const uint64_t w = Word(seed, i / 8);
    if (p[i] != reinterpret_cast<const char*>(&w)[i % 8]) return i;
  }
}

}  // namespace shmpool::fuzz
