// What the C ABI's translation units share: the opaque client struct and the mapping of
// absl::Status to error codes (which also records shmpool_last_error()).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "shmpool/client.h"

struct shmpool_client {
  std::unique_ptr<shmpool::Client> client;
};

namespace shmpool::internal {
int StatusToCode(const absl::Status& s);
}  // namespace shmpool::internal
