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

uint64_t Word(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void FillPattern(char* p, uint64_t size, uint64_t seed) {
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t w = Word(seed, i / 8);
    std::memcpy(p + i, &w, size - i < 8 ? size - i : 8);
  }
}

uint64_t CheckPattern(const char* p, uint64_t size, uint64_t seed) {
  for (uint64_t i = 0; i < size; i += 8) {
    const uint64_t w = Word(seed, i / 8);
    const uint64_t n = size - i < 8 ? size - i : 8;
    if (std::memcmp(p + i, &w, n) != 0) return i;
  }
  return size;
}

}  // namespace shmpool::fuzz
