// The daemon works in absl::Status; gRPC handlers return grpc::Status. The two code sets
// are numbered alike (both are google.rpc.Code), so the mapping keeps code and message.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace shmpool::server {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace shmpool::server
