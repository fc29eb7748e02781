// Call: a unary RPC as the core serves it. Every unary handler of server/rpc/ is one call
// of it: the request converted to the core's (FromProto), the caller's credentials looked
// up from the transport's peer (Resolver::Caller), the core operation run, and its result
// converted to the response (ToProto) or its status mapped to gRPC's (ToGrpc, the one
// mapping: grpc_status.h).
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "server/rpc/grpc_status.h"
#include "server/rpc/ops_convert.h"

namespace shmpool::server {

// `reply(out, resp)` fills in the response from the core's result; its status is the call's.
template <class Ops, class In, class Out, class Req, class Resp, class Reply>
grpc::Status Call(const grpc::ServerContextBase* ctx, const Req* req, Resp* resp, const Ops& ops,
                  absl::StatusOr<Out> (Ops::*op)(const PeerCredentials&, const In&) const,
                  Reply reply) {
  In in;
  FromProto(*req, &in);
  absl::StatusOr<Out> out = (ops.*op)(ops.resolver().Caller(ctx->peer()), in);
  if (!out.ok()) return ToGrpc(out.status());
  return ToGrpc(reply(*out, resp));
}

template <class Ops, class In, class Out, class Req, class Resp>
grpc::Status Call(const grpc::ServerContextBase* ctx, const Req* req, Resp* resp, const Ops& ops,
                  absl::StatusOr<Out> (Ops::*op)(const PeerCredentials&, const In&) const) {
  return Call(ctx, req, resp, ops, op, [](const Out& out, Resp* r) {
    ToProto(out, r);
    return absl::OkStatus();
  });
}

}  // namespace shmpool::server
