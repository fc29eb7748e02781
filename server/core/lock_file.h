// LockFile: an exclusive flock(2) on a file, held for the daemon's life, so that a second
// daemon refuses to start instead of silently taking over the socket (gRPC would unlink
// and rebind it) or the segments. The holder writes its pid into the file so the refusal
// can name it. The kernel drops the lock when the holder dies, so a stale file is harmless.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace shmpool::server {

class LockFile {
 public:
  // FAILED_PRECONDITION naming the holder's pid when another process holds `path`;
  // `what` says what the lock guards, for the message.
  static absl::StatusOr<std::unique_ptr<LockFile>> Acquire(const std::string& path,
                                                           const std::string& what);
  ~LockFile();
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

 private:
  LockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace shmpool::server
