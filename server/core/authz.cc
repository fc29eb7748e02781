#include "server/core/authz.h"

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

bool GroupShared(const ArenaRecord& arena) {
  struct stat st {};
  const int rc =
      arena.segment ? fstat(arena.segment->fd(), &st) : lstat(arena.unmapped_path.c_str(), &st);
  return rc == 0 && (st.st_mode & S_IRWXG) == (S_IRGRP | S_IWGRP);
}

// Whether a local peer (uid, groups) is the arena's tenant: who the kernel lets open its file.
bool IsTenant(uid_t uid, const std::vector<gid_t>& groups, const ArenaRecord& arena) {
  return uid == arena.uid || (GroupShared(arena) && Contains(groups, arena.gid));
}

const char* Verb(ArenaAction action) {
  switch (action) {
    case ArenaAction::kRead:
      return "read";
    case ArenaAction::kAttach:
      return "attach to";
    case ArenaAction::kManage:
      return "manage";
  }
  return "use";
}

// Whether a remote peer presented a verified client certificate: it came over TCP ("ipv4:"
// or "ipv6:"), and with [tls] (`tls`) the TCP listeners take no one else. A peer of a Unix
// connection missing from the PeerTable ("fd:N") is neither local nor verified.
bool Verified(const PeerCredentials& peer, bool tls) {
  return tls &&
         (absl::StartsWith(peer.address, "ipv4:") || absl::StartsWith(peer.address, "ipv6:"));
}

// A remote peer without a verified certificate: refused whatever it asks of an arena.
absl::Status Unauthenticated(const PeerCredentials& peer) {
  return absl::UnauthenticatedError(absl::StrFormat(
      "TCP peer %s is not authenticated: this daemon's TCP listener has no [tls] (client "
      "certificates); use its Unix socket, or configure [tls]",
      peer.address));
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

absl::Status Authz::CheckAuthenticated(const PeerCredentials& peer) const {
  if (!peer.local && !Verified(peer, remote_authenticated_)) return Unauthenticated(peer);
  return absl::OkStatus();
}

absl::Status Authz::Check(const PeerCredentials& peer, const ArenaRecord& arena,
                          ArenaAction action) const {
  if (!peer.local) {
    if (!Verified(peer, remote_authenticated_)) return Unauthenticated(peer);
    if (action == ArenaAction::kRead) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrFormat("arena \"%s\": remote peers (%s) may not attach or manage arenas",
                        arena.spec.id, peer.address));
  }
  if (peer.uid == arena.uid || IsAdmin(peer) || IsTenant(peer.uid, GroupsOf(peer), arena))
    return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrFormat("uid %d (gid %d) may not %s arena \"%s\": it belongs to uid %d, group %d%s",
                      peer.uid, peer.gid, Verb(action), arena.spec.id, arena.uid, arena.gid,
                      GroupShared(arena) ? "" : " (not shared with the group)"));
}

absl::StatusOr<std::vector<ArenaPtr>> Authz::Readable(const PeerCredentials& peer,
                                                      std::vector<ArenaPtr> arenas) const {
  if (absl::Status st = CheckAuthenticated(peer); !st.ok()) return st;
  if (!peer.local || IsAdmin(peer)) return arenas;
  const std::vector<gid_t> groups = GroupsOf(peer);
  std::erase_if(arenas, [&](const ArenaPtr& a) { return !IsTenant(peer.uid, groups, *a); });
  return arenas;
}

absl::Status Authz::CheckCreate(const PeerCredentials& peer, ArenaSpec& spec) const {
  if (absl::Status st = CheckAuthenticated(peer); !st.ok()) return st;
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
