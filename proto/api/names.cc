#include "proto/api/names.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace shmpool::api {
namespace {

bool AllowedChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

}  // namespace

absl::Status ValidateArenaId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("arena id is empty");
  if (id.size() > kMaxArenaIdLength)
    return absl::InvalidArgumentError(
        absl::StrFormat("arena id \"%s\" is %d characters long; the limit is %d", id, id.size(),
                        kMaxArenaIdLength));
  for (char c : id) {
    if (!AllowedChar(c))
      return absl::InvalidArgumentError(absl::StrFormat(
          "arena id \"%s\" contains '%c'; allowed are a-z, 0-9, '-', '_' and '.'", id, c));
  }
  if (id[0] == '.' || id[0] == '-')
    return absl::InvalidArgumentError(
        absl::StrFormat("arena id \"%s\" must not start with '%c'", id, id[0]));
  return absl::OkStatus();
}

std::string ArenaName(absl::string_view arena_id) { return absl::StrCat(kArenaPrefix, arena_id); }

absl::StatusOr<std::string> ParseArenaName(absl::string_view name) {
  if (!absl::StartsWith(name, kArenaPrefix))
    return absl::InvalidArgumentError(
        absl::StrFormat("arena name \"%s\" must have the form arenas/{arena_id}", name));
  const absl::string_view id = name.substr(kArenaPrefix.size());
  if (id == "-")
    return absl::InvalidArgumentError(
        absl::StrFormat("this method takes one arena, not \"%s\"", name));
  if (absl::Status st = ValidateArenaId(id); !st.ok()) return st;
  return std::string(id);
}

std::string SessionName(uint64_t id) { return absl::StrCat(kSessionPrefix, id); }

absl::StatusOr<uint64_t> ParseSessionName(absl::string_view name) {
  uint64_t id = 0;
  if (!absl::StartsWith(name, kSessionPrefix) ||
      !absl::SimpleAtoi(name.substr(kSessionPrefix.size()), &id))
    return absl::InvalidArgumentError(
        absl::StrFormat("session name \"%s\" must have the form sessions/{number}", name));
  return id;
}

std::string SegmentFileName(absl::string_view arena_id) {
  return absl::StrCat("shmpool.", arena_id, ".seg");
}

namespace {
constexpr absl::string_view kRetiredInfix = ".retired-";
}  // namespace

std::string RetiredSegmentFileName(absl::string_view arena_id, uint64_t generation) {
  return absl::StrCat(SegmentFileName(arena_id), kRetiredInfix, generation);
}

std::string ArenaIdOfRetiredFile(absl::string_view file_name) {
  const size_t at = file_name.rfind(kRetiredInfix);
  uint64_t generation;
  if (at == absl::string_view::npos ||
      !absl::SimpleAtoi(file_name.substr(at + kRetiredInfix.size()), &generation))
    return "";
  return ArenaIdOfSegmentFile(file_name.substr(0, at));
}

std::string ArenaIdOfSegmentFile(absl::string_view file_name) {
  if (!absl::StartsWith(file_name, "shmpool.") || !absl::EndsWith(file_name, ".seg")) return "";
  if (file_name.size() <= 12) return "";
  absl::string_view id = file_name.substr(8, file_name.size() - 12);
  return ValidateArenaId(id).ok() ? std::string(id) : "";
}

}  // namespace shmpool::api
