// The credentials of the daemon's TCP listeners. With [tls] (config.h): TLS with the
// daemon's certificate, and a client certificate required and verified against the
// configured CA during the handshake (a peer without one never gets a connection). Without
// it: plaintext, and every TCP peer is unauthenticated (authz.h says what that allows).
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "server/core/config.h"

namespace shmpool::server {

// FAILED_PRECONDITION naming the file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TcpServerCredentials(const TlsConfig& tls);

}  // namespace shmpool::server
