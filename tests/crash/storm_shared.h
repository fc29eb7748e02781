// What the kill-storm's processes share, in one anonymous MAP_SHARED mapping made before
// any fork: a mailbox of blocks handed between processes, and one side log per child slot
// saying what the child in that slot holds and which step it is in.
//
// Side log protocol (a child killed at any instruction leaves every block it could hold
// named somewhere, except in the one malloc window below):
//   malloc: intent = {kMalloc, k, size}; p = malloc; held[k] = {ref(p), size, kUntagged};
//           WriteTag; held[k].state = kTagged; intent = kNone.
//           Killed between malloc's return and the held[k] store: the block is unknown
//           to the harness (counted as an unknowable window of the size's class: each
//           can leave at most one allocated block that no log names, of that class).
//   free:   intent = {kFree, k}; check the tag; free(p); held[k] = 0; intent = kNone.
//           held[k] names the block until free returned: the harness asks the segment
//           whether it is free.
//   put:    intent = {kPut, k}; CAS mailbox[m] 0 -> packed; held[k] = 0; intent = kNone.
//   take:   intent = {kTake, k}; v = mailbox[m]; held[k] = {v, kTaking}; CAS mailbox[m]
//           v -> 0; on success check the tag, held[k].state = kTagged, else held[k] = 0.
// The harness, once every child is dead and reclaimed, collects every offset named by a
// held entry or the mailbox, and frees each one that the segment says is allocated.
//
// INVARIANTS: a packed entry is (size << 40) | offset, offset < 2^40, 0 = empty;
// children[i] is written only by the child in slot i (and cleared by the supervisor
// before it starts a replacement there).
#pragma once

#include <atomic>
#include <cstdint>

namespace shmpool::crash {

inline constexpr int kMailboxSlots = 2048;
inline constexpr int kHeld = 96;
inline constexpr int kMaxChildren = 32;

inline uint64_t Pack(uint64_t off, uint64_t size) { return (size << 40) | off; }
inline uint64_t OffOf(uint64_t packed) { return packed & ((uint64_t{1} << 40) - 1); }
inline uint64_t SizeOf(uint64_t packed) { return packed >> 40; }

struct HeldEntry {
  enum State : uint32_t { kEmpty = 0, kUntagged = 1, kTagged = 2, kTaking = 3 };
  std::atomic<uint64_t> packed;
  std::atomic<uint32_t> state;
  std::atomic<uint32_t> owner;  // the pid in the block's tag (a replacement inherits blocks)
  std::atomic<uint32_t> seq;
};

struct ChildLog {
  enum Intent : uint32_t { kNone = 0, kMalloc = 1, kFree = 2, kPut = 3, kTake = 4 };
  std::atomic<uint32_t> pid;
  std::atomic<uint32_t> intent;
  std::atomic<uint32_t> intent_slot;
  std::atomic<uint64_t> intent_size;      // what a kMalloc intent asks for
  std::atomic<uint32_t> attached;         // 1 once attach succeeded
  std::atomic<uint64_t> ops;              // malloc + free + put + take done
  std::atomic<uint64_t> failed;           // malloc that returned NULL
  std::atomic<uint64_t> corrupt;          // tags found overwritten
  std::atomic<uint64_t> failed_attaches;  // attach calls that returned an error
  HeldEntry held[kHeld];
};

// The supervisor, when it kills the child of a slot, moves the entry its intent named to
// limbo (the harness resolves it at the end) and lets the replacement inherit the rest,
// which the dead child certainly held.
inline constexpr int kLimbo = 1 << 14;

struct StormShared {
  std::atomic<uint64_t> mailbox[kMailboxSlots];
  ChildLog children[kMaxChildren];
  uint64_t limbo[kLimbo];  // supervisor only
  uint32_t nlimbo;
};

}  // namespace shmpool::crash
