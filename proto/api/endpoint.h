// Endpoints of shmpoold, and the default one, shared by the daemon, shmpoolctl and the
// client library so that all three agree without configuration.
//
// An endpoint is "unix:PATH" (also "unix://PATH" or a bare absolute path) or "HOST:PORT"
// (TCP, for remote operators). The default socket is the first of
//     /run/shmpool/shmpoold.sock               (a system daemon; needs /run writable)
//     $XDG_RUNTIME_DIR/shmpool/shmpoold.sock   (a per-user daemon)
//     /tmp/shmpool-$UID/shmpoold.sock
// that the daemon can create (DaemonSocketPath). A client with no endpoint takes
// $SHMPOOL_ENDPOINT, else the first of those sockets that exists and that it trusts, else
// the daemon's choice (ClientEndpoint), so a user's client finds a system daemon. A socket
// found that way is trusted only when it and its directory belong to the caller's uid or
// root, neither is a symlink, and the directory is not writable by group or others: in
// /tmp another user could have made /tmp/shmpool-$UID first.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmpool::api {

struct Endpoint {
  enum Kind { kUnix, kTcp };
  Kind kind = kUnix;
  std::string address;  // socket path (kUnix) or host:port (kTcp)

  // The gRPC target for a channel: "unix:PATH" or "HOST:PORT".
  std::string Target() const;
  std::string ToString() const { return Target(); }
};

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text);

// The default socket paths, best first.
std::vector<std::string> SocketCandidates();
// The socket a daemon started with no --listen uses.
std::string DaemonSocketPath();
// The directory of the per-user socket, /tmp/shmpool-$UID.
std::string UserSocketDir();
// The endpoint a client uses: `requested` if not empty, else $SHMPOOL_ENDPOINT if set,
// else the first default socket that exists and is trusted (see the top of this file),
// else DaemonSocketPath(). FAILED_PRECONDITION when default sockets exist but none is
// trusted, naming the first and why ("refusing PATH: owned by uid 1001").
absl::StatusOr<std::string> ClientEndpoint(absl::string_view requested);

}  // namespace shmpool::api
