#include "server/authz.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace shmpool::server {
namespace {

bool Contains(const std::vector<gid_t>& v, gid_t g) {
  return std::find(v.begin(), v.end(), g) != v.end();
}

}  // namespace

std::vector<gid_t> GroupsOf(const PeerCredentials& peer) {
  std::vector<gid_t> out = {peer.gid};
  std::ifstream in(absl::StrFormat("/proc/%d/status", peer.pid));
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, "Groups:")) continue;
    std::istringstream g(line.substr(7));
    for (gid_t v; g >> v;) out.push_back(v);
  }
  return out;
}

bool Authz::IsAdmin(const PeerCredentials& peer) const {
  if (!peer.local) return false;
  if (peer.uid == 0 || peer.uid == daemon_uid_) return true;
  return admin_gid_.has_value() && Contains(GroupsOf(peer), *admin_gid_);
}

absl::Status Authz::Check(const PeerCredentials& peer, const ArenaRecord& arena,
                          ArenaAction action) const {
  if (action == ArenaAction::kRead) return absl::OkStatus();
  if (!peer.local)
    return absl::PermissionDeniedError(
        absl::StrFormat("arena \"%s\": remote peers (%s) may not attach or manage arenas",
                        arena.spec.id, peer.address));
  if (IsAdmin(peer) || peer.uid == arena.uid) return absl::OkStatus();
  struct stat st {};
  const bool group_shared =
      fstat(arena.segment->fd(), &st) == 0 && (st.st_mode & S_IRWXG) == (S_IRGRP | S_IWGRP);
  if (group_shared && Contains(GroupsOf(peer), arena.gid)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrFormat(
      "uid %d (gid %d) may not %s arena \"%s\": it belongs to uid %d, group %d%s", peer.uid,
      peer.gid, action == ArenaAction::kAttach ? "attach to" : "manage", arena.spec.id, arena.uid,
      arena.gid, group_shared ? "" : " (not shared with the group)"));
}

absl::Status Authz::CheckCreate(const PeerCredentials& peer, ArenaSpec& spec) const {
  if (!peer.local) return absl::PermissionDeniedError("remote peers may not create arenas");
  if (IsAdmin(peer)) return absl::OkStatus();
  if (spec.owner && *spec.owner != peer.uid)
    return absl::PermissionDeniedError(
        absl::StrFormat("uid %d may not create an arena owned by uid %d (only an admin may)",
                        peer.uid, *spec.owner));
  if (spec.group && !Contains(GroupsOf(peer), *spec.group))
    return absl::PermissionDeniedError(absl::StrFormat(
        "uid %d is not in group %d and may not give it an arena", peer.uid, *spec.group));
  spec.owner = peer.uid;
  if (!spec.group) spec.group = peer.gid;
  return absl::OkStatus();
}

}  // namespace shmpool::server
