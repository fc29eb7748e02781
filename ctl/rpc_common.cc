#include "ctl/rpc_common.h"

#include <chrono>
#include <iostream>

#include "ctl/commands.h"
#include "proto/api/names.h"

namespace shmpool::ctl {

int Usage(const std::string& message) {
  std::cerr << "shmpoolctl: " << message << "\n(see shmpoolctl --help)\n";
  return kExitUsage;
}

int Failed(const grpc::Status& st) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int code = st.error_code();
  std::cerr << "shmpoolctl: " << (code >= 0 && code <= 16 ? kNames[code] : "ERROR") << ": "
            << st.error_message() << "\n";
  return kExitFailed;
}

void Prepare(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

std::string ArenaNameOf(const std::string& word) {
  return word.rfind("arenas/", 0) == 0 ? word : api::ArenaName(word);
}

}  // namespace shmpool::ctl
