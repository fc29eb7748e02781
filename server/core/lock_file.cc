#include "server/core/lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace shmpool::server {

absl::StatusOr<std::unique_ptr<LockFile>> LockFile::Acquire(const std::string& path,
                                                            const std::string& what) {
  // Never through a symlink, and only a regular file of the daemon's own.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::PermissionDeniedError(
        absl::StrFormat("cannot open lock file %s: %s", path,
                        errno == ELOOP ? "it is a symbolic link" : std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrFormat(
        "lock file %s is not a regular file of the daemon's uid %d", path, geteuid()));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    int pid = 0;
    const bool known = n > 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(buf), &pid);
    return absl::FailedPreconditionError(
        absl::StrFormat("another shmpoold%s holds %s (lock file %s)",
                        known ? absl::StrCat(" (pid ", pid, ")") : "", what, path));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the message of a refused second daemon: carry on without it.
  }
  return std::unique_ptr<LockFile>(new LockFile(fd, path));
}

LockFile::~LockFile() {
  // Empty the file first: a daemon started after us must not name our (dead) pid.
  if (ftruncate(fd_, 0) != 0) {
  }
  close(fd_);
}

}  // namespace shmpool::server
