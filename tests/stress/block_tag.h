// Tagged blocks for the stress tests: every block carries its owner, a sequence number and
// a checksum over the whole block, and the rest of it is a pattern derived from the tag,
// so a receiver can tell a block that was overwritten, handed out twice or mixed up with
// another from one that arrived intact. Plus the workload's shared pieces: deterministic
// seeds, the size distribution, and SHMPOOL_STRESS_SCALE.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "absl/strings/str_format.h"

namespace shmpool::stress {

// SHMPOOL_STRESS_SCALE (default 1.0) multiplies the amount of work; sanitizer presets set
// it lower.
inline double Scale() {
  const char* s = std::getenv("SHMPOOL_STRESS_SCALE");
  const double v = s ? std::atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}
inline uint64_t Scaled(uint64_t n) {
  const uint64_t v = static_cast<uint64_t>(static_cast<double>(n) * Scale());
  return v > 0 ? v : 1;
}

inline uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline uint64_t Seed(uint64_t a, uint64_t b, uint64_t c = 0) { return Mix(Mix(Mix(a) ^ b) ^ c); }

// Request sizes from 16 B to 64 KiB: mostly small, some medium, a few large (page runs).
inline size_t RandomSize(std::mt19937_64& rng) {
  const uint64_t r = rng() % 100;
  if (r < 70) return 16 + rng() % (1024 - 16 + 1);
  if (r < 92) return 1025 + rng() % (32768 - 1025 + 1);
  return 32769 + rng() % (65536 - 32769 + 1);
}

// Block layout: [0,4) owner, [4,8) sequence, [8,16) checksum of everything else; the
// payload [16, size) is a pattern seeded by (owner, sequence, size).
inline constexpr size_t kMinTaggedSize = 16;

inline uint64_t PatternWord(uint64_t& state) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return state ^ (state >> 29);
}

inline uint64_t Checksum(const unsigned char* p, size_t size, uint32_t owner, uint32_t seq) {
  uint64_t h = Seed(owner, seq, size);
  for (size_t i = 16; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  for (size_t i = size - (size - 16) % 8; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

inline void WriteTag(void* block, size_t size, uint32_t owner, uint32_t seq) {
  auto* p = static_cast<unsigned char*>(block);
  std::memcpy(p, &owner, 4);
  std::memcpy(p + 4, &seq, 4);
  uint64_t state = Seed(owner, seq, size);
  size_t i = 16;
  for (; i + 8 <= size; i += 8) {
    const uint64_t w = PatternWord(state);
    std::memcpy(p + i, &w, 8);
  }
  const uint64_t last = PatternWord(state);
  std::memcpy(p + i, &last, size - i);
  const uint64_t sum = Checksum(p, size, owner, seq);
  std::memcpy(p + 8, &sum, 8);
}

// Empty when the block carries exactly the tag and pattern written for (owner, seq, size);
// otherwise what is wrong.
inline std::string CheckTag(const void* block, size_t size, uint32_t owner, uint32_t seq) {
  const auto* p = static_cast<const unsigned char*>(block);
  uint32_t o, s;
  uint64_t sum;
  std::memcpy(&o, p, 4);
  std::memcpy(&s, p + 4, 4);
  std::memcpy(&sum, p + 8, 8);
  if (o != owner || s != seq)
    return absl::StrFormat("block %p: tag says owner %u seq %u, expected owner %u seq %u", block, o,
                           s, owner, seq);
  if (sum != Checksum(p, size, owner, seq))
    return absl::StrFormat("block %p (owner %u seq %u, %u bytes): checksum mismatch", block, owner,
                           seq, size);
  uint64_t state = Seed(owner, seq, size);
  size_t i = 16;
  for (; i + 8 <= size; i += 8) {
    const uint64_t w = PatternWord(state);
    if (std::memcmp(p + i, &w, 8) != 0)
      return absl::StrFormat("block %p (owner %u seq %u): payload differs at byte %u", block, owner,
                             seq, i);
  }
  const uint64_t last = PatternWord(state);
  if (std::memcmp(p + i, &last, size - i) != 0)
    return absl::StrFormat("block %p (owner %u seq %u): payload tail differs", block, owner, seq);
  return {};
}

}  // namespace shmpool::stress
