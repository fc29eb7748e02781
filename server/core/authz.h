// Authz: who may do what to an arena, decided from the caller's kernel-verified
// credentials (SO_PEERCRED, peer_table.h), never from anything the caller says.
//
// A tenant is exactly who the kernel lets open the arena's segment file: its owner uid,
// and, when the file is group-accessible (mode 0660), the members of its group (primary or
// supplementary, read from /proc/PID/status). The daemon's check mirrors the file's
// permissions, and the file's permissions are what stops a process that bypasses the daemon
// (we chose owner and mode over passing fds with SCM_RIGHTS: clients of a restarted daemon
// and tools like fsck re-open the file by path, the kernel enforces it with no daemon in
// the loop, and `ls -l` shows an operator who the tenant is).
//
// Admins manage every arena: root, the daemon's own uid, and members of the configured
// admin group (Config::admin_gid). Anyone local may create an arena for themselves: a
// non-admin's arena is owned by its uid and group (mode 0660); naming another owner or a
// group the caller is not in is PERMISSION_DENIED.
//
// Reads (get, list, stats, watch, segment map, pools) follow the same rule: a local caller
// sees its own tenant's arenas only (an admin sees all). A list leaves the others out; an
// arena named in a request gives PERMISSION_DENIED, as a refused mutation does (NOT_FOUND
// only when no such arena exists: a name is not a secret, the segment file shows it).
// Remote (TCP) peers have no kernel credentials. With [tls] configured, every TCP connection
// has presented a client certificate signed by the configured CA (gRPC verifies it during
// the handshake, or there is no connection): such a peer is an operator's tool and may read
// every arena (list, get, stats, watch, segment map, pools), never attach, create or manage
// (PERMISSION_DENIED). Without [tls], a TCP peer is unauthenticated: every arena-scoped call,
// read or mutation, is UNAUTHENTICATED; what it may still call holds nothing of a tenant's:
// gRPC health checking and reflection.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/arena_registry.h"
#include "server/core/peer_table.h"

namespace shmpool::server {

enum class ArenaAction { kRead, kAttach, kManage };

class Authz {
 public:
  // remote_authenticated: every TCP peer has a verified client certificate ([tls]).
  Authz(uid_t daemon_uid, std::optional<gid_t> admin_gid, bool remote_authenticated)
      : daemon_uid_(daemon_uid),
        admin_gid_(admin_gid),
        remote_authenticated_(remote_authenticated) {}

  bool IsAdmin(const PeerCredentials& peer) const;
  // OK for a local peer and a verified remote one; UNAUTHENTICATED for a remote peer
  // without a verified certificate (see above). Calls over all arenas check it first.
  absl::Status CheckAuthenticated(const PeerCredentials& peer) const;
  // OK, or PERMISSION_DENIED naming the caller and the arena (UNAUTHENTICATED: see above).
  absl::Status Check(const PeerCredentials& peer, const ArenaRecord& arena,
                     ArenaAction action) const;
  // Fills in the owner of a new arena for a non-admin, or refuses what it may not create.
  absl::Status CheckCreate(const PeerCredentials& peer, ArenaSpec& spec) const;
  // The arenas of `arenas` that `peer` may read, in their order; UNAUTHENTICATED for an
  // unauthenticated remote peer.
  absl::StatusOr<std::vector<ArenaPtr>> Readable(const PeerCredentials& peer,
                                                 std::vector<ArenaPtr> arenas) const;

 private:
  const uid_t daemon_uid_;
  const std::optional<gid_t> admin_gid_;
  const bool remote_authenticated_;
};

// The primary gid and the supplementary groups of a local peer (/proc/PID/status).
std::vector<gid_t> GroupsOf(const PeerCredentials& peer);

}  // namespace shmpool::server
