// What the C ABI's translation units share: the opaque client handle and the mapping of
// absl::Status to error codes (which also records shmpool_last_error()).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "shmpool/client.h"
#include "shmpool/shmpool.h"

// A shmpool_client* is the shmpool::Client* itself (shmpool_client is never defined), so
// shmpool_malloc and shmpool_free reach the client's heap with one load.
namespace shmpool::internal {
int StatusToCode(const absl::Status& s);
inline Client* ClientOf(shmpool_client* c) { return reinterpret_cast<Client*>(c); }
inline const Client* ClientOf(const shmpool_client* c) {
  return reinterpret_cast<const Client*>(c);
}
inline shmpool_client* HandleOf(Client* c) { return reinterpret_cast<shmpool_client*>(c); }
}  // namespace shmpool::internal
