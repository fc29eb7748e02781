// Resource names of the API (package shmpool.v1) and the rules for arena ids.
//
//   arena:    "arenas/{arena_id}"; "arenas/-" stands for every arena where allowed
//   session:  "sessions/{session_id}" (a decimal number)
//   arena_id: 1 to 63 characters of [a-z0-9-_.], not starting with '.' or '-' (so it is a
//             safe file-name component: the segment is <shm-dir>/shmpool.{arena_id}.seg)
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmpool::api {

inline constexpr absl::string_view kArenaPrefix = "arenas/";
inline constexpr absl::string_view kAllArenas = "arenas/-";
inline constexpr absl::string_view kSessionPrefix = "sessions/";
inline constexpr size_t kMaxArenaIdLength = 63;

// OK, or INVALID_ARGUMENT saying what is wrong with the id.
absl::Status ValidateArenaId(absl::string_view id);

std::string ArenaName(absl::string_view arena_id);
// The arena id of "arenas/{arena_id}"; INVALID_ARGUMENT for anything else (also "arenas/-").
absl::StatusOr<std::string> ParseArenaName(absl::string_view name);

std::string SessionName(uint64_t id);
absl::StatusOr<uint64_t> ParseSessionName(absl::string_view name);

// Segment file names: "shmpool.{arena_id}.seg", and back (empty when not one of ours).
std::string SegmentFileName(absl::string_view arena_id);
std::string ArenaIdOfSegmentFile(absl::string_view file_name);
// A retired generation's file (arena reset): "shmpool.{arena_id}.seg.retired-{generation}",
// and back (empty when not one).
std::string RetiredSegmentFileName(absl::string_view arena_id, uint64_t generation);
std::string ArenaIdOfRetiredFile(absl::string_view file_name);

}  // namespace shmpool::api
